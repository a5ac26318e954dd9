package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"audiencebridge/audiencesync"
	"audiencebridge/library"
	"audiencebridge/models"
)

// exportWant is what an export of every generated recipient must find:
// recipient i has a visitor ID unless i%5 == 0, and every visitor ID is
// distinct.
type exportWant struct {
	recipients, exported, complement int64
}

func planExport(recipients int) exportWant {
	n := int64(recipients)
	return exportWant{recipients: n, exported: n - n/5, complement: n / 5}
}

// exportQueue keeps the export jobs the service queues; the benchmark runs
// each with the real worker in the foreground, as jobQueue does for syncs.
type exportQueue struct{ jobs []audiencesync.ExportArgs }

func (q *exportQueue) EnqueueTx(_ context.Context, _ *models.Store, args river.JobArgs, _ *river.InsertOpts) (int64, error) {
	a, ok := args.(audiencesync.ExportArgs)
	if !ok {
		return 0, fmt.Errorf("abbench runs exports only here, not %s", args.Kind())
	}
	q.jobs = append(q.jobs, a)
	return int64(len(q.jobs)), nil
}

func isExport(r result) bool { return r.Step == "export" || r.Step == "re-export" }

// exportPhase measures the export of every recipient to a new audience on
// fresh databases.
func exportPhase(ctx context.Context, database string, want exportWant, opt syncOptions, repeat int, keep bool) ([]result, error) {
	return onFreshDatabases(ctx, database, opt.tmp, "export", repeat, keep, func(dsn string, i int) ([]result, error) {
		return measureExport(ctx, dsn, want, opt, i)
	})
}

// measureExport generates the recipients, makes a workflow exporting all of
// them to a new audience through the built-in data source, and runs it
// twice (the first export, then a re-run that adds nothing), each beside
// the sqlite3 shell's INSERT ... SELECT of the visitor IDs.
func measureExport(ctx context.Context, dsn string, want exportWant, opt syncOptions, n int) ([]result, error) {
	store, err := models.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer func() { _ = store.Close() }()
	if _, err := store.Migrate(ctx); err != nil {
		return nil, err
	}
	start := time.Now()
	// The sync phase's generator, with a one-member segment: it also
	// creates the library data source (COOKIE) a new audience needs.
	if _, err := generateSync(ctx, store, planSync(int(want.recipients), 1)); err != nil {
		return nil, err
	}
	actor := models.SystemActor("abbench")
	builtin, err := store.DataSourceByInternalName(ctx, models.DefaultDataSourceName)
	if err != nil {
		return nil, err
	}
	in := builtin.Input()
	in.AAMDataSourceID = strconv.Itoa(segmentDPID)
	if _, err := store.UpdateDataSource(ctx, actor, models.DefaultDataSourceName, in); err != nil {
		return nil, fmt.Errorf("set the AAM data source ID: %w", err)
	}
	// The shell's fresh segment, empty in our database.
	baseSeg, err := library.NewEmbedded(store).CreateSegment(ctx, library.SegmentInput{Name: "abbench baseline", DataSourceID: segmentDPID})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "abbench: %s run %d: generated %d recipients in %.1fs\n", store.Dialect(), n, want.recipients, time.Since(start).Seconds())
	if err := store.Close(); err != nil {
		return nil, err
	}
	if store, err = models.Open(ctx, dsn); err != nil {
		return nil, err
	}

	jobs := &exportQueue{}
	svc, err := audiencesync.New(store, []byte("abbench-session-secret-0123456789abcdef"), library.NewEmbedded(store), slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return nil, err
	}
	svc.Jobs = jobs
	wf, err := store.CreateWorkflow(ctx, actor, models.WorkflowInput{Label: "abbench export"})
	if err != nil {
		return nil, err
	}
	if _, err := store.SetQuery(ctx, actor, wf.ID, models.QueryInput{}); err != nil { // no conditions: every recipient
		return nil, err
	}
	if _, err := svc.SetExport(ctx, actor, wf.ID, models.ExportInput{NewSegmentName: "abbench export", DataSource: models.DefaultDataSourceName, ComplementEnabled: true}); err != nil {
		return nil, err
	}

	withBase := opt.baseline && store.Dialect() == models.SQLite
	var out []result
	for _, step := range []struct {
		name  string
		added int64
	}{{"export", want.exported}, {"re-export", 0}} {
		var b result
		if withBase {
			// The first export fills a new segment; the re-run adds to
			// the audience that now holds every visitor ID.
			sid, conflict := baseSeg.SID, ""
			if step.name != "export" {
				w, err := store.WorkflowByID(ctx, wf.ID)
				if err != nil {
					return nil, err
				}
				sid, conflict = *w.SegmentID, " ON CONFLICT DO NOTHING"
			}
			q := fmt.Sprintf("INSERT INTO lib_members (segment_id, member) SELECT %d, visitor_id FROM recipient_visitor_ids WHERE true%s;", sid, conflict)
			if b, err = shellBaseline(ctx, store, dsn, opt.tmp, q, step.added); err != nil {
				return nil, fmt.Errorf("baseline of %s: %w", step.name, err)
			}
		}
		run, err := svc.RunWorkflow(ctx, wf.ID, models.TriggerManual, actor)
		if err != nil {
			return nil, err
		}
		if len(jobs.jobs) == 0 || jobs.jobs[len(jobs.jobs)-1].RunID != run.ID {
			return nil, fmt.Errorf("the service queued no job for run #%d", run.ID)
		}
		args := jobs.jobs[len(jobs.jobs)-1]
		jobs.jobs = nil
		stop, err := startProfile(opt.cpuProfile, step.name, n)
		if err != nil {
			return nil, err
		}
		worker := &audiencesync.ExportWorker{Service: svc}
		r, err := timed(func() error { return workUntilDone(ctx, store, worker, args) })
		if perr := stop(); err == nil {
			err = perr
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", step.name, err)
		}
		r.Database, r.Run, r.Step, r.Rows = string(store.Dialect()), n, step.name, want.recipients
		r.RowsPerS = float64(r.Rows) / r.Seconds
		if withBase {
			r.Baseline, r.BaselineRSSMB, r.Ratio = b.Seconds, b.PeakRSSMB, r.Seconds/b.Seconds
			if b.Check != "ok" {
				r.Check = "baseline: " + b.Check
			}
		}
		if err := checkExport(ctx, store, &r, run.ID, want, step.added); err != nil {
			return nil, err
		}
		out = append(out, r)
		ratio := ""
		if withBase {
			ratio = fmt.Sprintf(", sqlite3 %.1fs, ratio %.2f", b.Seconds, r.Ratio)
		}
		fmt.Fprintf(os.Stderr, "abbench: %s run %d: %s %.1fs%s, peak RSS %.0f MB\n", store.Dialect(), n, step.name, r.Seconds, ratio, r.PeakRSSMB)
	}
	return out, nil
}

// workUntilDone runs the job's attempts, one slice after another as the
// engine would, until the run has ended.
func workUntilDone(ctx context.Context, store *models.Store, worker *audiencesync.ExportWorker, args audiencesync.ExportArgs) error {
	for slice := 1; ; slice++ {
		err := worker.Work(ctx, &river.Job[audiencesync.ExportArgs]{JobRow: &rivertype.JobRow{Attempt: 1, MaxAttempts: audiencesync.ImportAttempts}, Args: args})
		var snooze *rivertype.JobSnoozeError
		if err != nil && !errors.As(err, &snooze) {
			return err
		}
		run, err := store.RunByID(ctx, args.RunID)
		if err != nil {
			return err
		}
		if run.Status != models.RunRunning && run.Status != models.RunQueued {
			return nil
		}
		if slice > 1000 {
			return fmt.Errorf("run #%d is still %s after %d slices", run.ID, run.Status, slice)
		}
	}
}

// checkExport compares the run record and the audience with the generator.
func checkExport(ctx context.Context, store *models.Store, r *result, runID int64, want exportWant, added int64) error {
	run, err := store.RunByID(ctx, runID)
	if err != nil {
		return err
	}
	// The sync columns hold the export's counts: targeted, exported, complement.
	r.Received, r.Reconciled, r.NotRecognized, r.Added, r.ListSize = run.Received, run.Exported, run.Complement, run.Added, run.ListSize
	if r.Check != "" {
		return nil
	}
	db, err := store.SQL()
	if err != nil {
		return err
	}
	var members int64
	if err := db.QueryRowContext(ctx, rebind(store.Dialect(), "SELECT COUNT(*) FROM lib_members WHERE segment_id = ?"), derefSID(run.SegmentID)).Scan(&members); err != nil {
		return err
	}
	got := [6]int64{run.Received, run.Exported, run.Complement, run.Added, run.ListSize, members}
	exp := [6]int64{want.recipients, want.exported, want.complement, added, want.exported, want.exported}
	switch {
	case run.Status != models.RunSucceeded:
		r.Check = fmt.Sprintf("run %s: %s", run.Status, run.Error)
	case got != exp:
		r.Check = fmt.Sprintf("targeted/exported/complement/added/size/members %v, want %v", got, exp)
	default:
		r.Check = "ok"
	}
	return nil
}

// shellBaseline times the sqlite3 shell running q on a copy of the
// database as it is now, and checks that q changed want rows.
func shellBaseline(ctx context.Context, store *models.Store, dsn, tmp, q string, want int64) (result, error) {
	shell, err := exec.LookPath("sqlite3")
	if err != nil {
		return result{}, errNoShell
	}
	b := &baseline{shell: shell, db: dsn, copy: filepath.Join(tmp, "export-baseline.db"), store: store}
	defer b.removeCopy()
	if err := b.snapshot(ctx); err != nil {
		return result{}, err
	}
	r, got, err := timeShell(ctx, shell, b.copy, ".bail on\n"+q+"\nSELECT changes();\n")
	if err != nil {
		return r, err
	}
	r.Check = "ok"
	if got != want {
		r.Check = fmt.Sprintf("added %d, want %d", got, want)
	}
	return r, nil
}

func derefSID(id *int64) int64 {
	if id == nil {
		return 0
	}
	return *id
}
