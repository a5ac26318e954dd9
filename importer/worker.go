package importer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"audiencebridge/models"
)

// Args is the job that runs a recipient import.
type Args struct {
	ImportID int64 `json:"importId"`
}

// Kind names the job for River.
func (Args) Kind() string { return "recipient_import" }

// InsertOpts keeps one job per import.
func (Args) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// Slice is how long one run of the job works before handing over to the
// next, so that a job never nears its timeout and a crash costs little.
const Slice = 20 * time.Second

// Worker runs imports on the job engine.
type Worker struct {
	river.WorkerDefaults[Args]
	Store *models.Store
}

// Work applies the next slice of the import.
func (w *Worker) Work(ctx context.Context, job *river.Job[Args]) error {
	done, err := Run(ctx, w.Store, job.Args.ImportID, Slice)
	switch {
	case errors.Is(err, models.ErrNotFound):
		return river.JobCancel(err)
	case err != nil && job.Attempt >= job.MaxAttempts:
		if ferr := w.Store.FailImport(context.WithoutCancel(ctx), job.Args.ImportID,
			fmt.Sprintf("gave up after %d attempts: %v", job.Attempt, err)); ferr != nil {
			return errors.Join(err, ferr)
		}
		return err
	case err != nil:
		return err
	case !done:
		return river.JobSnooze(time.Millisecond)
	}
	return nil
}
