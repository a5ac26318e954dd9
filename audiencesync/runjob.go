package audiencesync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"audiencebridge/models"
)

// attempt is one attempt of a job at a run, as the engine gives it.
type attempt struct {
	runID       int64
	n, max      int
	kind        string // "import sync" or "export", for the log
	subjectAttr string // "list" or "workflow"
}

// work is the life cycle every sync job shares: claim the run (never two
// at once for one list or workflow), do it, and end it — succeeded, failed
// at once for a fault retrying cannot fix, or left running with its error
// shown for the engine's next attempt. do returns what to log on success.
func (s *Service) work(ctx context.Context, a attempt, do func(ctx context.Context, run *models.Run, log *slog.Logger) ([]any, error)) error {
	run, err := s.Store.ClaimRun(ctx, a.runID)
	switch {
	case errors.Is(err, models.ErrRunFinished):
		return nil
	case errors.Is(err, models.ErrRunBusy):
		return river.JobSnooze(busyWait)
	case errors.Is(err, models.ErrNotFound):
		return river.JobCancel(err) // the list or workflow, and its runs, were deleted
	case err != nil:
		return err
	}
	defer s.observe(ctx, run.ID)
	subject := run.ListID
	if run.WorkflowID != nil {
		subject = run.WorkflowID
	}
	log := s.log().With("run", run.ID, a.subjectAttr, derefID(subject), "attempt", a.n)
	log.Info(a.kind+" started", "resumeAfter", run.ResumeAfter)
	done, err := do(ctx, run, log)
	var perm *permanentError
	switch {
	case err == nil:
		log.Info(a.kind+" succeeded", done...)
		return nil
	case errors.Is(err, errSliceDone):
		// Long work goes on in the job's next slice, at once, well inside
		// the engine's job timeout.
		if rerr := s.Store.ReleaseRun(context.WithoutCancel(ctx), run.ID); rerr != nil {
			return rerr
		}
		log.Info(a.kind + " continues in its next slice")
		return river.JobSnooze(time.Millisecond)
	case errors.Is(err, models.ErrRunLost):
		log.Warn(a.kind + " stopped: the run is no longer this worker's")
		return nil
	case errors.As(err, &perm):
		log.Warn(a.kind+" failed", "error", err)
		return s.Store.FailRun(context.WithoutCancel(ctx), run.ID, perm.Error())
	case a.n >= a.max:
		log.Error(a.kind+" failed for good", "error", err)
		return s.Store.FailRun(context.WithoutCancel(ctx), run.ID, fmt.Sprintf("tried %d times, failing each time; the last error: %v", a.n, err))
	}
	log.Warn(a.kind+" will be retried", "error", err)
	// The run stays running with the error shown; the engine retries it
	// with backoff and the next attempt takes it over.
	if herr := s.Store.NoteRunRetry(context.WithoutCancel(ctx), run.ID, fmt.Sprintf("attempt %d of %d failed, retrying: %v", a.n, a.max, err)); herr != nil {
		return errors.Join(err, herr)
	}
	return err
}

// errSliceDone ends one slice of a long run that is not finished.
var errSliceDone = errors.New("slice done")

// Slice is how long one attempt works before handing over to the next.
const Slice = 40 * time.Second

// retryAt spaces the retries of a failed attempt: a library that is down
// for a moment is tried again soon, one that stays down fails the run in a
// couple of minutes with its reason.
func (s *Service) retryAt(attempt int) time.Time {
	b := s.RetryBackoff
	if len(b) == 0 {
		b = DefaultRetryBackoff
	}
	return time.Now().Add(b[min(max(attempt-1, 0), len(b)-1)])
}
