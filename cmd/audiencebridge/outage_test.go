package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/models/dbtest"
)

// The data of the outage test: recipients 1..outageRecipients with visitor
// IDs as in the kill test; list k follows the visitor IDs of recipients
// outageRange(k) plus outageUnknown identifiers no recipient has.
const (
	outageRecipients = 150_000
	outageLists      = 3
	outageUnknown    = 20_000
	outageDown       = 5 * time.Second
)

func outageRange(k int) (lo, hi int64) {
	lo = int64(k)*20_000 + 1
	return lo, lo + 100_000 - 1
}

// TestDatabaseOutageDuringSyncs stops PostgreSQL for a few seconds while
// syncs run: the console's /healthz answers 503 meanwhile and 200 again by
// itself afterwards, every run ends (succeeded after a retry, or failed
// with a reason that names the database) and none stays running, and a new
// sync of each list then succeeds with exactly its audience's recipients.
//
// The test runs its own PostgreSQL cluster: the one of ./.ci/with-postgres
// serves the other packages' tests at the same time.
func TestDatabaseOutageDuringSyncs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and stops a PostgreSQL cluster")
	}
	if os.Getenv(dbtest.EnvPostgres) == "" {
		t.Skip("stops and starts a PostgreSQL cluster: set " + dbtest.EnvPostgres + " (./.ci/with-postgres)")
	}
	ctx := context.Background()
	began := time.Now()
	pg := startOutageCluster(t)
	clusterIn := time.Since(began)
	bin := faultBuild(t)
	t.Logf("own PostgreSQL cluster started in %v, binary built in %v", clusterIn.Round(time.Millisecond), (time.Since(began) - clusterIn).Round(time.Millisecond))
	dsn := pg.url
	crashCLI(t, bin, "migrate", "--database", dsn)
	store, q := faultOpen(ctx, t, dsn)

	setupStart := time.Now()
	sids := outageSeed(ctx, t, store, q)
	t.Logf("seeded %d recipients and %d segments of %d members in %v", outageRecipients, len(sids), 100_000*4/5+outageUnknown,
		time.Since(setupStart).Round(time.Millisecond))
	token := faultToken(t, bin, dsn)
	srv := startFaultProcess(t, bin, "server", "serve", "--database", dsn)
	api := crashAPI{t: t, token: token}

	listIDs := make([]int64, outageLists)
	for k := range listIDs {
		var created struct {
			ID    int64 `json:"id"`
			RunID int64 `json:"runId"`
		}
		api.do(srv, http.MethodPost, "/api/v1/lists", fmt.Sprintf(`{"label":"Outage test %d","sharedAudienceId":%d,"dataSource":"defaultDataSource"}`, k, sids[k]),
			http.StatusCreated, &created)
		listIDs[k] = created.ID
		r := api.waitRun(srv, created.RunID, crashWithin(t, 60*time.Second), nil)
		if r.Status != models.RunSucceeded {
			t.Fatalf("the first run of list %d ended %s: %v\n%s", k, r.Status, r.Error, srv.logs())
		}
		t.Logf("list %d: first run #%d took %v", k, r.ID, r.FinishedAt.Sub(*r.StartedAt).Round(time.Millisecond))
	}

	// A sync of each list, and the database goes away once one runs.
	runIDs := make([]int64, outageLists)
	for k, id := range listIDs {
		var queued struct {
			RunID int64 `json:"runId"`
		}
		api.do(srv, http.MethodPost, fmt.Sprintf("/api/v1/lists/%d/sync", id), "", http.StatusAccepted, &queued)
		runIDs[k] = queued.RunID
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		r := api.run(srv, runIDs[0])
		if outageEnded(r.Status) {
			t.Fatalf("run #%d ended %s before the database went away (make the audiences bigger)", r.ID, r.Status)
		}
		if r.Status == models.RunRunning && r.Progress.Done > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run #%d did not start: %+v\n%s", r.ID, r, srv.logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
	var before []string
	for _, id := range runIDs {
		r := api.run(srv, id)
		before = append(before, fmt.Sprintf("#%d %s (phase %q, %d of %d)", id, r.Status, r.Progress.Phase, r.Progress.Done, r.Progress.Total))
	}
	// The test's own connections would not outlive the database either.
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	pg.stop()
	stopped := time.Since(t0)

	// /healthz answers 503 while the database is down...
	var unhealthyAt time.Duration
	for time.Since(t0) < outageDown || unhealthyAt == 0 {
		status, err := faultProbe(srv.url + "/healthz")
		if err != nil {
			t.Fatalf("/healthz did not answer with the database down: %v", err)
		}
		if status == http.StatusServiceUnavailable && unhealthyAt == 0 {
			unhealthyAt = time.Since(t0)
		}
		if status == http.StatusOK && unhealthyAt > 0 {
			t.Errorf("/healthz answered 200 again %v after the database stopped, while it was still down", time.Since(t0).Round(time.Millisecond))
		}
		if time.Since(t0) > 30*time.Second {
			t.Fatalf("/healthz never answered 503 in the 30s after the database stopped")
		}
		time.Sleep(100 * time.Millisecond)
	}
	restartAt := time.Since(t0)
	pg.start()
	upAt := time.Since(t0)

	// ... and 200 again by itself.
	var healthyAt time.Duration
	for healthyAt == 0 {
		if status, err := faultProbe(srv.url + "/healthz"); err == nil && status == http.StatusOK {
			healthyAt = time.Since(t0)
			break
		}
		if time.Since(t0)-upAt > 30*time.Second {
			t.Fatalf("/healthz did not answer 200 within 30s of the database's return\n%s", srv.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}

	store, q = faultOpen(ctx, t, dsn)
	var recovered []string
	for _, id := range runIDs {
		var r crashRun
		if err := faultCall(srv, token, http.MethodGet, fmt.Sprintf("/api/v1/runs/%d", id), "", http.StatusOK, &r); err != nil {
			recovered = append(recovered, fmt.Sprintf("#%d: %v", id, err))
			continue
		}
		errText := ""
		if r.Error != nil {
			errText = *r.Error
		}
		recovered = append(recovered, fmt.Sprintf("#%d %s (phase %q, error %q)", id, r.Status, r.Progress.Phase, errText))
	}
	t.Logf("right after /healthz recovered, the runs: %v", recovered)

	// Every run ends: a run left running by the failed attempt is taken
	// over within RunStaleAfter and a scheduler period.
	ended := map[int64]time.Duration{}
	deadline := time.Now().Add(crashWithin(t, models.RunStaleAfter+15*time.Second+30*time.Second))
	for len(ended) < len(runIDs) {
		for _, id := range runIDs {
			if _, ok := ended[id]; ok {
				continue
			}
			var r crashRun
			if err := faultCall(srv, token, http.MethodGet, fmt.Sprintf("/api/v1/runs/%d", id), "", http.StatusOK, &r); err == nil && outageEnded(r.Status) {
				ended[id] = time.Since(t0)
			}
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("timeline from the stop: runs then %v; stopped in %v; /healthz 503 from %v; restart at %v, database up at %v; /healthz 200 again at %v",
		before, stopped.Round(time.Millisecond), unhealthyAt.Round(time.Millisecond), restartAt.Round(time.Millisecond), upAt.Round(time.Millisecond),
		healthyAt.Round(time.Millisecond))
	for k, id := range runIDs {
		r := q.run(ctx, id)
		var errText string
		if err := q.db.QueryRowContext(ctx, "SELECT error FROM sync_runs WHERE id = $1", id).Scan(&errText); err != nil {
			t.Fatal(err)
		}
		when := "never"
		if d, ok := ended[id]; ok {
			when = d.Round(time.Millisecond).String()
		}
		t.Logf("list %d run #%d: %s at %v, %d attempts, phase %q, error %q", k, id, r.Status, when, r.Attempts, r.Phase, errText)
		switch r.Status {
		case models.RunSucceeded:
		case models.RunFailed:
			if !outageNamesDatabase(errText) {
				t.Errorf("run #%d failed with an error that does not name the database: %q", id, errText)
			}
		default:
			t.Errorf("run #%d is still %s %v after the database stopped (error %q)", id, r.Status, time.Since(t0).Round(time.Second), errText)
		}
	}
	t.Logf("the server's warnings and errors:\n%s", outageLogSummary(t, srv))
	if t.Failed() {
		t.FailNow()
	}

	// A new sync of each list succeeds.
	after := make([]int64, len(listIDs))
	for k, id := range listIDs {
		var queued struct {
			RunID int64 `json:"runId"`
		}
		api.do(srv, http.MethodPost, fmt.Sprintf("/api/v1/lists/%d/sync", id), "", http.StatusAccepted, &queued)
		after[k] = queued.RunID
	}
	for k, id := range listIDs {
		r := api.waitRun(srv, after[k], crashWithin(t, 60*time.Second), nil)
		lo, hi := outageRange(k)
		exp := crashExpected(lo, hi)
		if r.Status != models.RunSucceeded {
			t.Errorf("list %d: the sync after the outage, run #%d, ended %s: %v", k, r.ID, r.Status, r.Error)
		}
		if r.Counts.Received != int64(len(exp))+outageUnknown || r.Counts.Reconciled != int64(len(exp)) || r.Counts.Added != 0 || r.Counts.Removed != 0 {
			t.Errorf("list %d: run #%d counts %+v, want %d received, %d reconciled, none added or removed", k, r.ID, r.Counts, len(exp)+outageUnknown, len(exp))
		}
		crashCheckMembers(t, q, id, exp, fmt.Sprintf("list %d after the outage:", k))
	}
	srv.stop()
}

// outageEnded says whether a run of that status has ended.
func outageEnded(s models.RunStatus) bool {
	return s == models.RunSucceeded || s == models.RunFailed || s == models.RunCancelled
}

// outageNamesDatabase says whether a run's error says the database failed.
func outageNamesDatabase(msg string) bool {
	msg = strings.ToLower(msg)
	for _, w := range []string{"database", "postgres", "sqlstate", "connect"} {
		if strings.Contains(msg, w) {
			return true
		}
	}
	return false
}

// outageLogSummary is the distinct warnings and errors of a process's log,
// each with how often it came.
func outageLogSummary(t *testing.T, s *crashServer) string {
	counts := map[string]int{}
	for _, e := range faultLogEntries(t, s) {
		if e.Level != "WARN" && e.Level != "ERROR" {
			continue
		}
		key := e.Level + " " + e.Msg
		if e.Run != 0 {
			key += fmt.Sprintf(" run=%d", e.Run)
		}
		if e.Error != "" {
			key += ": " + e.Error[:min(len(e.Error), 200)]
		}
		counts[key]++
	}
	var lines []string
	for k, n := range counts {
		lines = append(lines, fmt.Sprintf("  %3d× %s", n, k))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// outageSeed fills the database with the recipients and the segments.
func outageSeed(ctx context.Context, t *testing.T, store *models.Store, q crashSQL) []int64 {
	t.Helper()
	now := time.Now().UTC()
	q.exec(ctx, "INSERT INTO recipients (id, email, created_at, updated_at) "+
		q.series(1, outageRecipients, "i, 'r' || i || '@example.com', "+q.timeParam()+", "+q.timeParam(), ""), now, now)
	q.exec(ctx, fmt.Sprintf("SELECT setval(pg_get_serial_sequence('recipients', 'id'), %d)", outageRecipients))
	q.exec(ctx, "INSERT INTO recipient_visitor_ids (recipient_id, visitor_id, first_seen_at) "+
		q.series(1, outageRecipients, "i, "+q.padded("1", "i")+", "+q.timeParam(), "i % 5 <> 0"), now)
	lib := library.NewEmbedded(store)
	if _, err := lib.CreateDataSource(ctx, library.DataSource{ID: 100001, Name: "Outage test visitors", IDType: library.Cookie}); err != nil {
		t.Fatal(err)
	}
	sids := make([]int64, outageLists)
	for k := range sids {
		seg, err := lib.CreateSegment(ctx, library.SegmentInput{Name: fmt.Sprintf("Outage test audience %d", k), DataSourceID: 100001})
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := outageRange(k)
		q.fillSegment(ctx, seg.SID, lo, hi, outageUnknown)
		sids[k] = seg.SID
	}
	return sids
}

// outageCluster is a PostgreSQL cluster of the test's own.
type outageCluster struct {
	t    *testing.T
	bin  string // the folder of pg_ctl
	dir  string
	port int
	url  string
	up   bool
}

// startOutageCluster creates and starts a throwaway cluster as
// ./.ci/with-postgres does (as the postgres user when the test runs as
// root), and removes it when the test ends, started or not.
func startOutageCluster(t *testing.T) *outageCluster {
	t.Helper()
	bin := os.Getenv("AB_TEST_PG_BIN")
	if bin == "" {
		found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
		sort.Strings(found)
		if len(found) == 0 {
			t.Skip("no PostgreSQL server installed under /usr/lib/postgresql")
		}
		bin = found[len(found)-1]
	}
	dir, err := os.MkdirTemp("", "abpg-outage-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	c := &outageCluster{t: t, bin: bin, dir: dir, port: port,
		url: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)}
	if os.Getuid() == 0 {
		pgUser, err := user.Lookup("postgres")
		if err != nil {
			t.Skipf("running as root without a postgres user to run the cluster as: %v", err)
		}
		uid, _ := strconv.Atoi(pgUser.Uid)
		gid, _ := strconv.Atoi(pgUser.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	c.run("initdb", "-D", c.data(), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
	// Whatever happens to the test, the cluster does not outlive it.
	t.Cleanup(func() {
		_, _ = c.command("pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "stop").CombinedOutput()
	})
	c.start()
	return c
}

func (c *outageCluster) data() string { return filepath.Join(c.dir, "data") }

// command is a PostgreSQL program, run as the postgres user when the test
// runs as root (initdb refuses root).
func (c *outageCluster) command(program string, args ...string) *exec.Cmd {
	path := filepath.Join(c.bin, program)
	if os.Getuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

func (c *outageCluster) run(program string, args ...string) {
	c.t.Helper()
	if out, err := c.command(program, args...).CombinedOutput(); err != nil {
		c.t.Fatalf("%s %s: %v\n%s", program, strings.Join(args, " "), err, out)
	}
}

// start starts the cluster and waits until it accepts connections.
func (c *outageCluster) start() {
	c.t.Helper()
	c.run("pg_ctl", "-D", c.data(), "-l", filepath.Join(c.dir, "server.log"), "-w", "-t", "60",
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100", c.port, c.dir),
		"start")
	c.up = true
}

// stop shuts the cluster down the way an operator's restart would: fast,
// disconnecting every client.
func (c *outageCluster) stop() {
	c.t.Helper()
	c.run("pg_ctl", "-D", c.data(), "-m", "fast", "-w", "stop")
	c.up = false
}
