package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"audiencebridge/audiencesync"
	"audiencebridge/library"
	"audiencebridge/models"
)

// syncWant is what the generator knows an import sync of its segment must
// find, computed here rather than read back from the database.
type syncWant struct {
	recipients, members int
	// reconciled is how many members are a recipient's visitor ID: the
	// first reconciled recipients whose id is not a multiple of 5 (those
	// have no visitor ID) nor of 8 (those are left out of the segment).
	reconciled int64
	idSum      int64 // sum of their recipient ids: the list's content
}

// planSync decides the segment: ~70% of its members reconcile, the rest are
// visitor IDs no recipient has.
func planSync(recipients, members int) syncWant {
	w := syncWant{recipients: recipients, members: members}
	k := int64(members) * 7 / 10
	for i := int64(1); i <= int64(recipients) && w.reconciled < k; i++ {
		if i%5 != 0 && i%8 != 0 {
			w.reconciled++
			w.idSum += i
		}
	}
	return w
}

// segmentDPID is the library data source of the generated segment.
const segmentDPID = 100001

// visitorID is the SQL of the 38-digit visitor ID numbered by the integer
// expression n: a scrambled half, so the IDs' order is not the recipients',
// and n itself, so they are unique.
func visitorID(d models.Dialect, n string) string {
	scrambled := "((" + n + ") * 2654435761) % 9999999967"
	if d == models.Postgres {
		return "lpad((" + scrambled + ")::text, 19, '0') || lpad((" + n + ")::text, 19, '0')"
	}
	return "printf('%019d%019d', " + scrambled + ", " + n + ")"
}

// series is the SQL of a row source s(i) counting from 1 to n.
func series(d models.Dialect, n int) string {
	if d == models.Postgres {
		return fmt.Sprintf("generate_series(1::bigint, %d::bigint) AS s(i)", n)
	}
	return fmt.Sprintf("(WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < %d) SELECT i FROM c) AS s", n)
}

// generateSync fills an empty database with set-based SQL: recipients
// 1..N (id i), a visitor ID for those with i%5 != 0 (80%), and a segment
// of the embedded library with the members want describes. It returns the
// segment's sid.
func generateSync(ctx context.Context, store *models.Store, want syncWant) (int64, error) {
	lib := library.NewEmbedded(store)
	if _, err := lib.CreateDataSource(ctx, library.DataSource{ID: segmentDPID, Name: "abbench visitors", IDType: library.Cookie}); err != nil {
		return 0, err
	}
	seg, err := lib.CreateSegment(ctx, library.SegmentInput{Name: "abbench audience", DataSourceID: segmentDPID})
	if err != nil {
		return 0, err
	}
	db, err := store.SQL()
	if err != nil {
		return 0, err
	}
	d := store.Dialect()
	now := store.Now()
	n, unknown := want.recipients, int64(want.members)-want.reconciled
	type stmt struct {
		q    string
		args []any
	}
	stmts := []stmt{
		{"INSERT INTO recipients (id, email, first_name, last_name, crm_id, created_at, updated_at) SELECT i, 'person' || i || '@example.com', 'Ana', 'Alves', " +
			"CASE WHEN i % 10 < 6 THEN 'C-' || i END, ?, ? FROM " + series(d, n), []any{now, now}},
		{"INSERT INTO recipient_visitor_ids (recipient_id, visitor_id, first_seen_at) SELECT i, " + visitorID(d, "i") + ", ? FROM " + series(d, n) + " WHERE i % 5 <> 0", []any{now}},
		// The members in identifier order, as a library would load them.
		{"INSERT INTO lib_members (segment_id, member) SELECT ?, m FROM (SELECT visitor_id AS m FROM recipient_visitor_ids WHERE recipient_id % 8 <> 0 ORDER BY recipient_id LIMIT ?) AS k ORDER BY m",
			[]any{seg.SID, want.reconciled}},
	}
	if unknown > 0 {
		// Visitor IDs numbered after every recipient's: nobody has them.
		stmts = append(stmts, stmt{"INSERT INTO lib_members (segment_id, member) SELECT ?, " + visitorID(d, fmt.Sprintf("i + %d", n)) + " FROM " + series(d, int(unknown)) + " ORDER BY 2", []any{seg.SID}})
	}
	stmts = append(stmts, stmt{"UPDATE lib_segments SET size = ? WHERE sid = ?", []any{want.members, seg.SID}})
	if d == models.Postgres {
		stmts = append(stmts, stmt{"SELECT setval(pg_get_serial_sequence('recipients', 'id'), ?)", []any{n}}, stmt{"ANALYZE", nil})
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, rebind(d, s.q), s.args...); err != nil {
			return 0, fmt.Errorf("generate: %w", err)
		}
	}
	return seg.SID, nil
}

// rebind turns ? placeholders into PostgreSQL's $n.
func rebind(d models.Dialect, q string) string {
	if d != models.Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// jobQueue stands in for the job engine: it keeps the import jobs the
// service queues, and the benchmark runs each with the real worker, in the
// foreground, so the time is the sync's and not the engine's polling.
type jobQueue struct{ jobs []audiencesync.ImportArgs }

func (q *jobQueue) EnqueueTx(_ context.Context, _ *models.Store, args river.JobArgs, _ *river.InsertOpts) (int64, error) {
	a, ok := args.(audiencesync.ImportArgs)
	if !ok {
		return 0, fmt.Errorf("abbench runs import syncs only, not %s", args.Kind())
	}
	q.jobs = append(q.jobs, a)
	return int64(len(q.jobs)), nil
}

// syncOptions are the sync phase's flags.
type syncOptions struct {
	members    int
	baseline   bool   // measure the sqlite3 shell beside us
	tmp        string // where the baseline's copies and files go
	cpuProfile string // a profile of our side of each step, at this name with the step inserted
}

// measureSync generates the data, then syncs a new list with the segment
// twice (first sync, then unchanged), each step beside the baseline.
func measureSync(ctx context.Context, dsn string, want syncWant, opt syncOptions, n int) ([]result, error) {
	store, err := models.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer func() { _ = store.Close() }()
	if _, err := store.Migrate(ctx); err != nil {
		return nil, err
	}
	start := time.Now()
	sid, err := generateSync(ctx, store, want)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "abbench: %s run %d: generated %d recipients and a %d-member segment in %.1fs\n",
		store.Dialect(), n, want.recipients, want.members, time.Since(start).Seconds())
	// A new handle, so the measurement starts with the connections and
	// memory of a console that has just started.
	if err := store.Close(); err != nil {
		return nil, err
	}
	if store, err = models.Open(ctx, dsn); err != nil {
		return nil, err
	}

	jobs := &jobQueue{}
	svc, err := audiencesync.New(store, []byte("abbench-session-secret-0123456789abcdef"), library.NewEmbedded(store), slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return nil, err
	}
	svc.Jobs = jobs
	actor := models.SystemActor("abbench")
	l, first, err := svc.CreateList(ctx, actor, models.SharedAudienceInput{ListInput: models.ListInput{Label: "abbench"}, SegmentID: sid, DataSource: models.DefaultDataSourceName})
	if err != nil {
		return nil, fmt.Errorf("create the list: %w", err)
	}
	var base *baseline
	if opt.baseline && store.Dialect() == models.SQLite {
		if base, err = newBaseline(ctx, store, dsn, sid, l.ID, opt.tmp); err != nil {
			return nil, err
		}
		defer base.remove()
	}
	var out []result
	for _, step := range []struct {
		name           string
		added, removed int64
	}{
		{"sync", want.reconciled, 0},
		// The same audience again: nothing changes.
		{"re-sync", 0, 0},
	} {
		run := first
		if step.name != "sync" {
			if run, err = svc.Sync(ctx, l.ID, models.TriggerManual, actor); err != nil {
				return nil, err
			}
		}
		if len(jobs.jobs) == 0 {
			return nil, errors.New("the service queued no job")
		}
		args := jobs.jobs[len(jobs.jobs)-1]
		jobs.jobs = nil
		if args.RunID != run.ID {
			return nil, fmt.Errorf("queued run #%d, want #%d", args.RunID, run.ID)
		}
		var b result
		if base != nil {
			if b, err = base.measure(ctx, step.added); err != nil {
				return nil, fmt.Errorf("baseline of %s: %w", step.name, err)
			}
		}
		stop, err := startProfile(opt.cpuProfile, step.name, n)
		if err != nil {
			return nil, err
		}
		worker := &audiencesync.ImportWorker{Service: svc}
		r, err := timed(func() error {
			return worker.Work(ctx, &river.Job[audiencesync.ImportArgs]{JobRow: &rivertype.JobRow{Attempt: 1, MaxAttempts: audiencesync.ImportAttempts}, Args: args})
		})
		if perr := stop(); err == nil {
			err = perr
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", step.name, err)
		}
		r.Database, r.Run, r.Step, r.Rows = string(store.Dialect()), n, step.name, int64(want.members)
		r.RowsPerS = float64(r.Rows) / r.Seconds
		if base != nil {
			r.Baseline, r.BaselineRSSMB, r.Ratio = b.Seconds, b.PeakRSSMB, r.Seconds/b.Seconds
			if b.Check != "ok" {
				r.Check = "baseline: " + b.Check
			}
		}
		if err := checkSync(ctx, store, &r, run.ID, l.ID, want, step.added, step.removed); err != nil {
			return nil, err
		}
		out = append(out, r)
		ratio := ""
		if base != nil {
			ratio = fmt.Sprintf(", sqlite3 %.1fs, ratio %.2f", b.Seconds, r.Ratio)
		}
		fmt.Fprintf(os.Stderr, "abbench: %s run %d: %s %.1fs%s, peak RSS %.0f MB\n", store.Dialect(), n, step.name, r.Seconds, ratio, r.PeakRSSMB)
	}
	return out, nil
}

// checkSync reads the run and the list back and compares them with what
// the generator planned.
func checkSync(ctx context.Context, store *models.Store, r *result, runID, listID int64, want syncWant, added, removed int64) error {
	run, err := store.RunByID(ctx, runID)
	if err != nil {
		return err
	}
	r.Received, r.Reconciled, r.NotRecognized, r.Added, r.Removed, r.ListSize = run.Received, run.Reconciled, run.NotRecognized, run.Added, run.Removed, run.ListSize
	if r.Check != "" {
		return nil
	}
	db, err := store.SQL()
	if err != nil {
		return err
	}
	var count, sum int64
	if err := db.QueryRowContext(ctx, rebind(store.Dialect(), "SELECT COUNT(*), COALESCE(SUM(recipient_id), 0) FROM list_members WHERE list_id = ?"), listID).Scan(&count, &sum); err != nil {
		return err
	}
	got := [7]int64{run.Received, run.Reconciled, run.NotRecognized, run.Added, run.Removed, run.ListSize, count}
	exp := [7]int64{int64(want.members), want.reconciled, int64(want.members) - want.reconciled, added, removed, want.reconciled, want.reconciled}
	switch {
	case run.Status != models.RunSucceeded:
		r.Check = fmt.Sprintf("run %s: %s", run.Status, run.Error)
	case got != exp:
		r.Check = fmt.Sprintf("received/reconciled/not recognised/added/removed/size/members %v, want %v", got, exp)
	case sum != want.idSum:
		r.Check = fmt.Sprintf("the list's recipients sum to %d, want %d", sum, want.idSum)
	default:
		r.Check = "ok"
	}
	return nil
}

// startProfile profiles our side of one step into the --cpuprofile name
// with the step (and run) inserted before the extension; the returned
// function stops it.
func startProfile(name, step string, n int) (func() error, error) {
	if name == "" {
		return func() error { return nil }, nil
	}
	ext := filepath.Ext(name)
	path := fmt.Sprintf("%s.%s%s", strings.TrimSuffix(name, ext), step, ext)
	if n > 1 {
		path = fmt.Sprintf("%s.%s.%d%s", strings.TrimSuffix(name, ext), step, n, ext)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}
