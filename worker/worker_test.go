package worker_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"audiencebridge/models"
	"audiencebridge/models/dbtest"
	"audiencebridge/worker"
)

type pingArgs struct{ N int }

func (pingArgs) Kind() string { return "test_ping" }

type pingWorker struct {
	river.WorkerDefaults[pingArgs]
	sum atomic.Int64
}

func (w *pingWorker) Work(_ context.Context, job *river.Job[pingArgs]) error {
	w.sum.Add(int64(job.Args.N))
	return nil
}

func TestJobsEnqueuedInATransactionRunOnlyWhenItCommits(t *testing.T) {
	store := dbtest.New(t)
	ctx := context.Background()
	if err := worker.Migrate(ctx, store); err != nil {
		t.Fatal(err)
	}
	if err := worker.Migrate(ctx, store); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	pw := &pingWorker{}
	workers := river.NewWorkers()
	river.AddWorker(workers, pw)
	eng, err := worker.New(store, workers, worker.Options{Work: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Stop(context.Background()) })

	// A rolled-back transaction takes its job and its change with it.
	boom := errors.New("boom")
	err = store.Tx(ctx, func(tx *models.Store) error {
		if _, err := tx.CreateOperator(ctx, models.SystemActor("test"), models.OperatorInput{Login: "ghost", Role: "marketer", Password: "long enough"}); err != nil {
			return err
		}
		if _, err := eng.EnqueueTx(ctx, tx, pingArgs{N: 1000}, nil); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if _, err := store.OperatorByLogin(ctx, "ghost"); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("rolled-back operator exists: %v", err)
	}
	for _, n := range []int{1, 2, 3} {
		err := store.Tx(ctx, func(tx *models.Store) error {
			_, err := eng.EnqueueTx(ctx, tx, pingArgs{N: n}, nil)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for pw.sum.Load() != 6 {
		if time.Now().After(deadline) {
			t.Fatalf("jobs ran to a sum of %d, want 6", pw.sum.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if got := pw.sum.Load(); got != 6 {
		t.Fatalf("sum = %d after the rolled-back job should never run", got)
	}
	if _, err := eng.EnqueueTx(ctx, store, pingArgs{N: 1}, nil); err == nil {
		t.Fatal("enqueue outside a transaction was accepted")
	}
}
