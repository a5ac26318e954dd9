// Package diagnostics draws Administration › Diagnostics: a troubleshooting
// checklist in the manner of Adobe's, each check with its status and what
// to do about it.
package diagnostics

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/views/pages/notifications"
)

// Status is how a check came out.
type Status string

// The statuses of a check.
const (
	OK      Status = "ok"
	Warning Status = "warning"
	Problem Status = "problem"
)

// Label is the status as its badge says it.
func (s Status) Label() string {
	switch s {
	case OK:
		return "OK"
	case Warning:
		return "Warning"
	}
	return "Problem"
}

// Badge is the status's badge class.
func (s Status) Badge() string {
	switch s {
	case OK:
		return "badge badge-success"
	case Warning:
		return "badge badge-warning"
	}
	return "badge badge-danger"
}

// Check is one item of the checklist: what was found and what to do.
type Check struct {
	Key     string
	Title   string
	Status  Status
	Summary string
	Advice  string
}

// AccountResult is what reaching an external account's library met.
type AccountResult struct {
	Name    string
	Reached string
	Err     error
}

// DataSourceRow is an AMC data source matched, or not, with the library's.
type DataSourceRow struct {
	Source  *models.DataSource
	Status  Status
	Finding string
}

// QueueState is the number of jobs in one state.
type QueueState struct {
	State string
	N     int64
}

// VM is what the handler found; the checks are decided here.
type VM struct {
	Now     time.Time
	Dialect models.Dialect

	Migrations    models.MigrationStatus
	MigrationsErr error

	Processes    []*models.Process
	ProcessesErr error

	Queue    map[string]int64
	QueueErr error

	FailedCount int64
	Failed      []*models.FailedRun
	FailedErr   error
	// FailedWindow is how far back failed runs are counted.
	FailedWindow time.Duration

	Accounts []AccountResult

	DataSources    []*models.DataSource
	LibrarySources []library.DataSource
	DataSourcesErr error

	Drops    []*models.MatchRateDrop
	DropsErr error

	Webhook notifications.WebhookVM
}

// Checks is the checklist in the order the page shows it.
func (vm VM) Checks() []Check {
	return []Check{vm.DatabaseCheck(), vm.WorkerCheck(), vm.QueueCheck(), vm.FailedRunsCheck(), vm.AccountsCheck(),
		vm.DataSourcesCheck(), vm.DropsCheck()}
}

// Count is how many checks have a status.
func (vm VM) Count(s Status) int {
	n := 0
	for _, c := range vm.Checks() {
		if c.Status == s {
			n++
		}
	}
	return n
}

func failed(key, title, what string, err error) Check {
	return Check{Key: key, Title: title, Status: Problem, Summary: fmt.Sprintf("%s could not be read: %v.", what, err),
		Advice: "Check that the database answers (/healthz) and look for the error in the console's log."}
}

// DatabaseCheck is the database and its migrations.
func (vm VM) DatabaseCheck() Check {
	const key, title = "database", "Database and migrations"
	if vm.MigrationsErr != nil {
		return failed(key, title, "The migrations", vm.MigrationsErr)
	}
	c := Check{Key: key, Title: title, Summary: fmt.Sprintf("%s, %d migrations applied.", vm.DialectLabel(), len(vm.Migrations.Applied))}
	if !vm.Migrations.UpToDate() {
		c.Status = Problem
		c.Summary += fmt.Sprintf(" %d pending: %s.", len(vm.Migrations.Pending), strings.Join(vm.PendingNames(), ", "))
		c.Advice = "Run `audiencebridge migrate` (or restart `serve`, which migrates), then reload this page."
		return c
	}
	c.Status, c.Advice = OK, "Nothing to do: the schema is up to date."
	return c
}

// DialectLabel names the database.
func (vm VM) DialectLabel() string {
	if vm.Dialect == models.Postgres {
		return "PostgreSQL"
	}
	return "SQLite"
}

// PendingNames are the pending migrations as files are named.
func (vm VM) PendingNames() []string {
	out := make([]string, len(vm.Migrations.Pending))
	for i, m := range vm.Migrations.Pending {
		out[i] = fmt.Sprintf("%04d_%s", m.Version, m.Name)
	}
	return out
}

// RunsWorker reports whether a process's role includes the worker.
func RunsWorker(p *models.Process) bool { return strings.Contains(p.Role, "worker") }

// LiveWorkers counts the live processes that run the worker.
func (vm VM) LiveWorkers() int {
	n := 0
	for _, p := range vm.Processes {
		if RunsWorker(p) && p.Alive(vm.Now) {
			n++
		}
	}
	return n
}

// WorkerCheck is the processes seen and whether one runs the worker.
func (vm VM) WorkerCheck() Check {
	const key, title = "processes", "Processes and workers"
	if vm.ProcessesErr != nil {
		return failed(key, title, "The processes", vm.ProcessesErr)
	}
	live := 0
	for _, p := range vm.Processes {
		if p.Alive(vm.Now) {
			live++
		}
	}
	c := Check{Key: key, Title: title, Summary: fmt.Sprintf("%s seen in the last day, %d alive, %d running the worker.",
		count(len(vm.Processes), "process", "processes"), live, vm.LiveWorkers())}
	if vm.LiveWorkers() == 0 {
		c.Status = Warning
		c.Advice = "No live process runs the worker, so syncs and imports wait in the queue: start `audiencebridge worker`, or `serve` without --no-worker."
		return c
	}
	c.Status, c.Advice = OK, "Nothing to do: queued jobs are being taken."
	return c
}

// Heartbeat says how long ago a process was seen.
func (vm VM) Heartbeat(p *models.Process) string {
	return fmt.Sprintf("%s ago", vm.Now.Sub(p.SeenAt).Round(time.Second))
}

// queueStates are River's job states, in the order of a job's life.
var queueStates = []string{"available", "scheduled", "running", "retryable", "pending", "completed", "cancelled", "discarded"}

// QueueStates is the queue depth by state, every state shown.
func (vm VM) QueueStates() []QueueState {
	out := make([]QueueState, 0, len(queueStates))
	for _, s := range queueStates {
		out = append(out, QueueState{State: s, N: vm.Queue[s]})
	}
	var other []string
	for s := range vm.Queue {
		if !slices.Contains(queueStates, s) {
			other = append(other, s)
		}
	}
	slices.Sort(other)
	for _, s := range other {
		out = append(out, QueueState{State: s, N: vm.Queue[s]})
	}
	return out
}

// QueueCheck is the job queue's depth.
func (vm VM) QueueCheck() Check {
	const key, title = "queue", "Job queue"
	if vm.QueueErr != nil {
		return failed(key, title, "The job queue", vm.QueueErr)
	}
	q := vm.Queue
	c := Check{Key: key, Title: title, Summary: fmt.Sprintf("%d waiting, %d scheduled, %d running, %d waiting to retry, %d discarded.",
		q["available"], q["scheduled"], q["running"], q["retryable"], q["discarded"])}
	switch {
	case q["retryable"] > 0 || q["discarded"] > 0:
		c.Status = Warning
		c.Advice = "Some jobs failed: those waiting to retry run again on their own; discarded ones gave up. See the failed runs below and the worker's log."
	case q["available"] > 0 && vm.ProcessesErr == nil && vm.LiveWorkers() == 0:
		c.Status = Warning
		c.Advice = "Jobs are waiting and no live process runs the worker: start one."
	default:
		c.Status, c.Advice = OK, "Nothing to do."
	}
	return c
}

// FailedWindowLabel says how far back failed runs are counted.
func (vm VM) FailedWindowLabel() string {
	return fmt.Sprintf("%d h", int(vm.FailedWindow.Hours()))
}

// FailedRunsCheck is the runs that failed lately.
func (vm VM) FailedRunsCheck() Check {
	const key, title = "failed-runs", "Failed runs"
	if vm.FailedErr != nil {
		return failed(key, title, "The runs", vm.FailedErr)
	}
	c := Check{Key: key, Title: title, Summary: fmt.Sprintf("%s failed in the last %s.", count(int(vm.FailedCount), "run", "runs"), vm.FailedWindowLabel())}
	if vm.FailedCount > 0 {
		c.Status = Warning
		c.Advice = "Open each run for its error, fix the cause (an inactive audience, an unreachable library, a data source without its AAM ID) and use Retry."
		return c
	}
	c.Status, c.Advice = OK, "Nothing to do."
	return c
}

// AccountsCheck is whether the external accounts' libraries answer.
func (vm VM) AccountsCheck() Check {
	c := Check{Key: "accounts", Title: "External accounts reachable", Status: OK}
	var bad []string
	for _, a := range vm.Accounts {
		if a.Err != nil {
			bad = append(bad, a.Name)
		}
	}
	if len(bad) > 0 {
		c.Status = Problem
		c.Summary = fmt.Sprintf("%s cannot be reached.", strings.Join(bad, " and "))
		c.Advice = "Check its base URL and secrets in Administration › Platform › External accounts, and that the library answers; then use Test connection."
		return c
	}
	c.Summary = fmt.Sprintf("Both libraries answer (%d accounts).", len(vm.Accounts))
	c.Advice = "Nothing to do."
	return c
}

// DataSourceRows matches each AMC data source with the library's.
func (vm VM) DataSourceRows() []DataSourceRow {
	names := make(map[int64]string, len(vm.LibrarySources))
	for _, d := range vm.LibrarySources {
		names[d.ID] = d.Name
	}
	rows := make([]DataSourceRow, 0, len(vm.DataSources))
	for _, ds := range vm.DataSources {
		r := DataSourceRow{Source: ds}
		switch {
		case ds.AAMDataSourceID == nil:
			r.Status = Warning
			r.Finding = "No AAM Data source ID: set its AAM Data source ID to the library data source (DPID) its identifiers come from."
		case vm.DataSourcesErr != nil:
			r.Status = Problem
			r.Finding = fmt.Sprintf("AAM Data source ID %d, not checked: the library did not answer.", *ds.AAMDataSourceID)
		default:
			if name, ok := names[*ds.AAMDataSourceID]; ok {
				r.Status = OK
				r.Finding = fmt.Sprintf("Matches the library's data source %d (%s).", *ds.AAMDataSourceID, name)
			} else {
				r.Status = Warning
				r.Finding = fmt.Sprintf("The library has no data source %d: set its AAM Data source ID to one of the library's, or create %d there.",
					*ds.AAMDataSourceID, *ds.AAMDataSourceID)
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// DataSourcesCheck is whether every AMC data source has its library match.
func (vm VM) DataSourcesCheck() Check {
	c := Check{Key: "datasources", Title: "AMC data sources matched with the library"}
	if vm.DataSourcesErr != nil {
		c.Status = Problem
		c.Summary = fmt.Sprintf("The data sources could not be compared: %v.", vm.DataSourcesErr)
		c.Advice = "Make the importSharedAudience account reachable (see above), then reload this page."
		return c
	}
	unmatched := 0
	for _, r := range vm.DataSourceRows() {
		if r.Status != OK {
			unmatched++
		}
	}
	c.Summary = fmt.Sprintf("%d of %d AMC data sources match a data source of the library (%d there).", len(vm.DataSources)-unmatched, len(vm.DataSources), len(vm.LibrarySources))
	if unmatched > 0 {
		c.Status = Warning
		c.Advice = "Audiences of an unmatched data source import without their data source: open each one flagged below in Administration › Platform › AMC Data sources and set its AAM Data source ID."
		return c
	}
	c.Status, c.Advice = OK, "Nothing to do."
	return c
}

// Rate is a run's match rate as the page shows it.
func Rate(r *models.Run) string { return fmt.Sprintf("%.1f%%", r.MatchRate()*100) }

// DropsCheck is the lists whose match rate fell sharply.
func (vm VM) DropsCheck() Check {
	const key, title = "match-rates", "Match rates"
	if vm.DropsErr != nil {
		return failed(key, title, "The match rates", vm.DropsErr)
	}
	c := Check{Key: key, Title: title}
	if len(vm.Drops) > 0 {
		c.Status = Warning
		c.Summary = fmt.Sprintf("The match rate of %s fell by more than %d points, or to 0, since the previous run.", count(len(vm.Drops), "list", "lists"), models.MatchDropPoints)
		c.Advice = "Open the last run: its unrecognised identifiers say why (identifiers of another type, hashed differently, recipients without them); check the audience and the list's data source."
		return c
	}
	c.Status = OK
	c.Summary = fmt.Sprintf("No list's match rate fell by more than %d points since its previous run.", models.MatchDropPoints)
	c.Advice = "Nothing to do."
	return c
}

// count is n with its noun.
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// ErrText is an error as a cell shows it.
func ErrText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
