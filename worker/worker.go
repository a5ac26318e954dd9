// Package worker runs the durable background jobs (recipient imports, and
// later the audience syncs) on River: riversqlite on the embedded SQLite
// database, riverpgxv5 on PostgreSQL. Jobs are enqueued in the same
// transaction as the change that asks for them, so a job is never lost and
// never runs for a change that was rolled back.
package worker

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"audiencebridge/models"
)

// Timing of the engine. A job works in slices well under JobTimeout and is
// rescued (retried) RescueAfter after its process died, so a crashed job
// resumes within a couple of minutes.
const (
	JobTimeout  = time.Minute
	RescueAfter = 2 * time.Minute
	// PollInterval is how often idle workers look for jobs: SQLite has no
	// LISTEN/NOTIFY to wake them.
	PollInterval = 200 * time.Millisecond
)

// Options configure the engine.
type Options struct {
	Logger *slog.Logger
	// Work makes this process fetch and run jobs; without it, it only
	// enqueues them (for a console that leaves the work to other processes).
	Work       bool
	MaxWorkers int
	// PeriodicJobs run on the elected leader among the working processes.
	PeriodicJobs []*river.PeriodicJob
}

// Engine enqueues and runs jobs.
type Engine struct {
	sqlite *river.Client[*sql.Tx]
	pg     *river.Client[pgx.Tx]
}

func riverConfig(workers *river.Workers, opts Options) *river.Config {
	cfg := &river.Config{
		Logger:               opts.Logger,
		JobTimeout:           JobTimeout,
		RescueStuckJobsAfter: RescueAfter,
		FetchPollInterval:    PollInterval,
		FetchCooldown:        50 * time.Millisecond,
		MaxAttempts:          10,
	}
	if opts.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if opts.Work {
		n := opts.MaxWorkers
		if n <= 0 {
			n = 2
		}
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: n}}
		cfg.Workers = workers
		cfg.PeriodicJobs = opts.PeriodicJobs
	}
	return cfg
}

// New builds the engine on the store's database with the given workers.
func New(store *models.Store, workers *river.Workers, opts Options) (*Engine, error) {
	cfg := riverConfig(workers, opts)
	e := &Engine{}
	var err error
	switch store.Dialect() {
	case models.Postgres:
		e.pg, err = river.NewClient(riverpgxv5.New(store.PgxPool()), cfg)
	default:
		db, derr := store.SQL()
		if derr != nil {
			return nil, derr
		}
		e.sqlite, err = river.NewClient(riversqlite.New(db), cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("create the job engine: %w", err)
	}
	return e, nil
}

// Migrate applies River's own migrations; `audiencebridge migrate` and
// `serve` run it after the console's.
func Migrate(ctx context.Context, store *models.Store) error {
	var err error
	switch store.Dialect() {
	case models.Postgres:
		var m *rivermigrate.Migrator[pgx.Tx]
		if m, err = rivermigrate.New(riverpgxv5.New(store.PgxPool()), nil); err == nil {
			_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		}
	default:
		db, derr := store.SQL()
		if derr != nil {
			return derr
		}
		var m *rivermigrate.Migrator[*sql.Tx]
		if m, err = rivermigrate.New(riversqlite.New(db), nil); err == nil {
			_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		}
	}
	if err != nil {
		return fmt.Errorf("apply the job engine's migrations: %w", err)
	}
	return nil
}

// Start begins fetching and running jobs (when the engine works).
func (e *Engine) Start(ctx context.Context) error {
	if e.pg != nil {
		return e.pg.Start(ctx)
	}
	return e.sqlite.Start(ctx)
}

// Stop stops taking jobs and waits for running ones until ctx ends; jobs
// still running then are cancelled and retried later.
func (e *Engine) Stop(ctx context.Context) error {
	var err error
	if e.pg != nil {
		err = e.pg.Stop(ctx)
	} else {
		err = e.sqlite.Stop(ctx)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		cancelCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if e.pg != nil {
			return e.pg.StopAndCancel(cancelCtx)
		}
		return e.sqlite.StopAndCancel(cancelCtx)
	}
	return err
}

// EnqueueTx adds a job inside the transaction of tx (a store given to a
// models.Store.Tx callback) and returns the job's id.
func (e *Engine) EnqueueTx(ctx context.Context, tx *models.Store, args river.JobArgs, opts *river.InsertOpts) (int64, error) {
	var (
		res *riverInsert
		err error
	)
	switch {
	case e.pg != nil && tx.PgxTx() != nil:
		r, ierr := e.pg.InsertTx(ctx, tx.PgxTx(), args, opts)
		res, err = wrapInsert(r, ierr)
	case e.sqlite != nil && tx.SQLTx() != nil:
		r, ierr := e.sqlite.InsertTx(ctx, tx.SQLTx(), args, opts)
		res, err = wrapInsert(r, ierr)
	default:
		return 0, errors.New("enqueue a job: not inside a transaction of this database")
	}
	if err != nil {
		return 0, fmt.Errorf("enqueue %s: %w", args.Kind(), err)
	}
	return res.id, nil
}
