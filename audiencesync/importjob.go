package audiencesync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	"audiencebridge/library"
	"audiencebridge/models"
)

// ImportArgs is the importSharedAudience job of one run.
type ImportArgs struct {
	RunID int64 `json:"runId"`
	// Revival tells apart the job that takes over a run whose worker died
	// from the run's first job (still "running" in the engine until it is
	// rescued): the heartbeat the revival saw.
	Revival int64 `json:"revival,omitempty"`
	// NotBefore (Unix milliseconds) delays a run that gathers a burst of
	// audience changes.
	NotBefore int64 `json:"notBefore,omitempty"`
}

// Kind names the job for the engine: Adobe's technical workflow.
func (ImportArgs) Kind() string { return "importSharedAudience" }

// ImportAttempts bounds the retries of a run that meets a passing fault (a
// library or database that does not answer): with the engine's backoff the
// last one comes about two minutes after the first.
const ImportAttempts = 4

// InsertOpts keeps one job per run and a short retry budget.
func (ImportArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: ImportAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// DefaultRetryBackoff is the wait before each retry of a run that met a
// passing fault; the last one is reused.
var DefaultRetryBackoff = []time.Duration{5 * time.Second, 30 * time.Second, 90 * time.Second}

// NextRetry spaces the retries (Service.retryAt).
func (w *ImportWorker) NextRetry(job *river.Job[ImportArgs]) time.Time {
	return w.Service.retryAt(job.Attempt)
}

// busyWait is how long a run waits when another run of its list is running.
const busyWait = 2 * time.Second

// ImportWorker runs importSharedAudience jobs.
type ImportWorker struct {
	river.WorkerDefaults[ImportArgs]
	Service *Service
}

// Work claims the run and imports the audience into its list.
func (w *ImportWorker) Work(ctx context.Context, job *river.Job[ImportArgs]) error {
	if wait := time.Until(time.UnixMilli(job.Args.NotBefore)); wait > 0 {
		return river.JobSnooze(wait)
	}
	a := attempt{runID: job.Args.RunID, n: job.Attempt, max: job.MaxAttempts, kind: "import sync", subjectAttr: "list"}
	return w.Service.work(ctx, a, func(ctx context.Context, run *models.Run, _ *slog.Logger) ([]any, error) {
		c, err := w.Service.runImport(ctx, run)
		return []any{"received", c.Received, "reconciled", c.Reconciled, "notRecognized", c.NotRecognized,
			"added", c.Added, "removed", c.Removed, "size", c.Recipients}, err
	})
}

func derefID(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// permanentError is a fault retrying cannot fix: the run fails at once with
// this message, and the list keeps its content.
type permanentError struct{ msg string }

func (e *permanentError) Error() string { return e.msg }

func permanent(format string, args ...any) error {
	return &permanentError{msg: fmt.Sprintf(format, args...)}
}

// target is what an import reads from and writes to.
type target struct {
	list *models.List
	ds   *models.DataSource
	lib  library.Library
	seg  library.Segment
}

// resolve loads the list, its data source and its audience, turning each
// way they can be missing into a message that says what to do.
func (s *Service) resolve(ctx context.Context, listID int64) (*target, error) {
	l, err := s.Store.ListByID(ctx, listID)
	if err != nil {
		return nil, err
	}
	if l.SegmentID == nil {
		return nil, permanent("%s follows no shared audience", l.InternalName)
	}
	if l.DataSourceID == nil {
		return nil, permanent("%s has no AMC data source: an administrator must choose one", l.InternalName)
	}
	ds, err := s.Store.DataSourceByID(ctx, *l.DataSourceID)
	if errors.Is(err, models.ErrNotFound) {
		return nil, permanent("the AMC data source of %s no longer exists: choose another data source for the list", l.InternalName)
	}
	if err != nil {
		return nil, err
	}
	lib, err := s.importLibrary(ctx)
	if err != nil {
		return nil, err
	}
	seg, err := lib.Segment(ctx, *l.SegmentID)
	switch {
	case errors.Is(err, models.ErrNotFound):
		return nil, permanent("the audience %d (%q) no longer exists in the library: %s keeps its last content; delete the list or build a new one on another audience",
			*l.SegmentID, l.SegmentName, l.InternalName)
	case err != nil:
		return nil, err
	case !seg.Active():
		return nil, permanent("the audience %q is inactive in the library: %s keeps its last content until it is active again", seg.Name, l.InternalName)
	}
	return &target{list: l, ds: ds, lib: lib, seg: seg}, nil
}

// runImport streams the audience's members into a stage, reconciles them
// and replaces the list's members, beating the run's heartbeat throughout.
func (s *Service) runImport(ctx context.Context, run *models.Run) (models.ImportCounts, error) {
	if run.ListID == nil {
		return models.ImportCounts{}, permanent("run #%d has no list", run.ID)
	}
	t, err := s.resolve(ctx, *run.ListID)
	if err != nil {
		return models.ImportCounts{}, err
	}
	var (
		phase atomic.Value
		done  atomic.Int64
	)
	phase.Store("Reading the audience")
	progress := func() models.RunProgress {
		return models.RunProgress{Phase: phase.Load().(string), Done: done.Load(), Total: t.seg.Size}
	}
	if err := s.Store.HeartbeatRun(ctx, run.ID, progress()); err != nil {
		return models.ImportCounts{}, err
	}
	ctx, stop := s.heartbeat(ctx, run.ID, progress)
	defer stop()

	stage, err := s.Store.OpenImportStage(ctx, t.ds.Rule())
	if err != nil {
		return models.ImportCounts{}, permanent("%v", err)
	}
	defer func() {
		if cerr := stage.Close(); cerr != nil {
			s.log().Warn("the sync tables were not dropped", "run", run.ID, "error", cerr)
		}
	}()
	err = t.lib.Members(ctx, t.seg.SID, func(batch []string) error {
		if err := stage.Add(ctx, batch); err != nil {
			return err
		}
		done.Store(stage.Received())
		return nil
	})
	if err != nil {
		return models.ImportCounts{}, causeOf(ctx, fmt.Errorf("read the audience's members: %w", err))
	}
	phase.Store("Reconciling with recipients")
	if err := stage.Reconcile(ctx); err != nil {
		return models.ImportCounts{}, causeOf(ctx, err)
	}
	phase.Store("Replacing the list's members")
	counts, err := stage.Replace(ctx, models.ReplaceResult{RunID: run.ID, ListID: t.list.ID, SegmentName: t.seg.Name, SegmentUpdatedAt: t.seg.UpdateTime})
	return counts, causeOf(ctx, err)
}

// causeOf prefers the reason ctx was cancelled (a lost run) to the error
// the cancellation caused.
func causeOf(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cause := context.Cause(ctx); errors.Is(cause, models.ErrRunLost) {
		return cause
	}
	return err
}
