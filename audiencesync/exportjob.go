package audiencesync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	"audiencebridge/library"
	"audiencebridge/models"
)

// ExportArgs is the exportSharedAudience job of one run.
type ExportArgs struct {
	RunID int64 `json:"runId"`
	// Revival: see ImportArgs.
	Revival int64 `json:"revival,omitempty"`
}

// Kind names the job for the engine: Adobe's technical workflow.
func (ExportArgs) Kind() string { return "exportSharedAudience" }

// InsertOpts keeps one job per run and a short retry budget.
func (ExportArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: ImportAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// ExportWorker runs exportSharedAudience jobs.
type ExportWorker struct {
	river.WorkerDefaults[ExportArgs]
	Service *Service
}

// NextRetry spaces retries as for imports.
func (w *ExportWorker) NextRetry(job *river.Job[ExportArgs]) time.Time {
	return w.Service.retryAt(job.Attempt)
}

// Work claims the run and exports the workflow's targets.
func (w *ExportWorker) Work(ctx context.Context, job *river.Job[ExportArgs]) error {
	a := attempt{runID: job.Args.RunID, n: job.Attempt, max: job.MaxAttempts, kind: "export", subjectAttr: "workflow"}
	return w.Service.work(ctx, a, func(ctx context.Context, run *models.Run, _ *slog.Logger) ([]any, error) {
		done, err := w.Service.runExport(ctx, run)
		if err != nil {
			return nil, err
		}
		return []any{"targeted", done.Received, "exported", done.Exported, "complement", done.Complement, "added", done.Added}, nil
	})
}

func (s *Service) exportLibrary(ctx context.Context) (library.Library, error) {
	return s.Libraries.For(ctx, models.ExportAccount)
}

// newSegmentCode is the integration code of the audience a workflow's first
// run creates: a retry after a crash finds it instead of creating another.
func newSegmentCode(w *models.Workflow) string { return fmt.Sprintf("AB_%s_%d", w.InternalName, w.ID) }

// exportTarget resolves the workflow, its data source, its conditions and
// its audience, creating the audience on the first run.
func (s *Service) exportTarget(ctx context.Context, run *models.Run) (*models.Workflow, models.ExportPlan, library.Library, library.Segment, error) {
	var plan models.ExportPlan
	var seg library.Segment
	if run.WorkflowID == nil {
		return nil, plan, nil, seg, permanent("run #%d has no workflow", run.ID)
	}
	w, err := s.Store.WorkflowByID(ctx, *run.WorkflowID)
	if err != nil {
		return nil, plan, nil, seg, err
	}
	if why := w.Ready(); why != "" {
		return nil, plan, nil, seg, permanent("%s cannot run: %s", w.InternalName, why)
	}
	ds, err := s.Store.DataSourceByID(ctx, *w.DataSourceID)
	if errors.Is(err, models.ErrNotFound) {
		return nil, plan, nil, seg, permanent("the AMC data source of %s no longer exists: choose another in its Update shared audience activity", w.InternalName)
	}
	if err != nil {
		return nil, plan, nil, seg, err
	}
	conds := w.Query()
	if err := s.Store.ValidateConditions(ctx, conds); err != nil {
		msg := err.Error()
		if ve := (*models.ValidationError)(nil); errors.As(err, &ve) {
			msg = ve.Message
		}
		return nil, plan, nil, seg, permanent("the query of %s: %s; edit the Query activity", w.InternalName, msg)
	}
	plan = models.ExportPlan{RunID: run.ID, Conditions: conds, Rule: ds.Rule()}
	if err := plan.Rule.Validate(); err != nil {
		return nil, plan, nil, seg, permanent("the AMC data source %s cannot export: %v", ds.Label, err)
	}
	lib, err := s.exportLibrary(ctx)
	if err != nil {
		return nil, plan, nil, seg, err
	}
	if w.SegmentID != nil {
		seg, err = lib.Segment(ctx, *w.SegmentID)
		if errors.Is(err, models.ErrNotFound) {
			return nil, plan, nil, seg, permanent("the audience %d (%q) no longer exists in the library: choose another, or type a new segment name, in the Update shared audience activity",
				*w.SegmentID, w.SegmentName)
		}
		return w, plan, lib, seg, err
	}
	// The first run creates the audience (a retry finds the one it made).
	seg, err = lib.SegmentByIntegrationCode(ctx, newSegmentCode(w))
	if err == nil {
		return w, plan, lib, seg, s.Store.SetWorkflowSegment(ctx, w.ID, seg.SID, seg.Name)
	}
	if !errors.Is(err, models.ErrNotFound) {
		return nil, plan, nil, seg, err
	}
	if ds.AAMDataSourceID == nil {
		return nil, plan, nil, seg, permanent("the AMC data source %s has no AAM Data source ID: a new audience needs one; set it, or choose an existing audience", ds.Label)
	}
	if taken, err := segmentNameTaken(ctx, lib, w.NewSegmentName); err != nil {
		return nil, plan, nil, seg, err
	} else if taken {
		return nil, plan, nil, seg, permanent("a shared audience named %q already exists in the library: select it in the Update shared audience activity, or choose another name", w.NewSegmentName)
	}
	seg, err = lib.CreateSegment(ctx, library.SegmentInput{Name: w.NewSegmentName, IntegrationCode: newSegmentCode(w), DataSourceID: *ds.AAMDataSourceID,
		Source: "Campaign", Author: "Audience Bridge (" + w.InternalName + ")", Collecting: true,
		Description: "Exported by the workflow " + w.Label + "."})
	var ve *models.ValidationError
	var ce *models.ConflictError
	switch {
	case errors.As(err, &ve):
		return nil, plan, nil, seg, permanent("the new audience %q: %s", w.NewSegmentName, ve.Message)
	case errors.As(err, &ce):
		return nil, plan, nil, seg, permanent("the new audience %q: %s", w.NewSegmentName, ce.Message)
	case err != nil:
		return nil, plan, nil, seg, err
	}
	return w, plan, lib, seg, s.Store.SetWorkflowSegment(ctx, w.ID, seg.SID, seg.Name)
}

// runExport walks the recipients in id ranges, each committed with the
// run's resume point, then ends the run.
func (s *Service) runExport(ctx context.Context, run *models.Run) (*models.Run, error) {
	w, plan, lib, seg, err := s.exportTarget(ctx, run)
	if err != nil {
		return nil, err
	}
	maxID, err := s.Store.MaxRecipientID(ctx)
	if err != nil {
		return nil, err
	}
	_, isEmbedded := lib.(*library.Embedded)
	localSID := int64(0)
	if isEmbedded {
		localSID = seg.SID
	}
	if err := s.Store.StartExport(ctx, run.ID, seg.SID, maxID); err != nil {
		return nil, err
	}
	var done atomic.Int64
	done.Store(run.ResumeAfter)
	ctx, stop := s.heartbeat(ctx, run.ID, func() models.RunProgress {
		return models.RunProgress{Phase: "Exporting", Done: done.Load(), Total: maxID}
	})
	defer stop()
	size := seg.Size
	step := s.ExportBatch
	switch {
	case step > 0:
	case len(plan.Conditions) == 0:
		// Without conditions a batch walks plain id ranges and stays
		// quick (under 1 s per 500,000 recipients): fewer, larger
		// batches rewrite the audience's key fewer times (five batches
		// of a million cost 40% more than two).
		step = 10 * models.ExportBatchSize
	default:
		step = models.ExportBatchSize
	}
	started := time.Now()
	for lo := run.ResumeAfter; lo < maxID; lo += step {
		hi := min(lo+step, maxID)
		var added int64
		if !isEmbedded {
			ids, err := s.Store.ExportIdentifiers(ctx, plan, lo, hi)
			if err != nil {
				return nil, causeOf(ctx, err)
			}
			if len(ids) > 0 {
				res, err := lib.AddMembers(ctx, seg.SID, library.Slice(ids))
				if err != nil {
					return nil, causeOf(ctx, fmt.Errorf("send the identifiers to the library: %w", err))
				}
				added, size = max(res.Size-size, 0), res.Size
			}
		}
		if _, err := s.Store.ExportBatch(ctx, plan, localSID, lo, hi, added); err != nil {
			return nil, causeOf(ctx, err)
		}
		done.Store(hi)
		if hi < maxID && time.Since(started) > s.slice() {
			return nil, errSliceDone
		}
	}
	out, err := s.Store.FinishExport(ctx, run.ID, w.ID, localSID)
	if err != nil {
		return nil, causeOf(ctx, err)
	}
	if isEmbedded {
		// Lists built on the audience follow it within seconds.
		s.SegmentChanged(context.WithoutCancel(ctx), seg.SID)
	}
	return out, nil
}

// heartbeat beats a running run's heartbeat with its progress every
// models.RunHeartbeat until stop; a lost run cancels the returned context.
func (s *Service) heartbeat(ctx context.Context, runID int64, progress func() models.RunProgress) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	stopBeat := make(chan struct{})
	beatDone := make(chan struct{})
	go func() {
		defer close(beatDone)
		tick := time.NewTicker(models.RunHeartbeat)
		defer tick.Stop()
		for {
			select {
			case <-stopBeat:
				return
			case <-tick.C:
				if err := s.Store.HeartbeatRun(context.WithoutCancel(ctx), runID, progress()); errors.Is(err, models.ErrRunLost) {
					cancel(err)
					return
				}
			}
		}
	}()
	return ctx, func() { close(stopBeat); <-beatDone; cancel(nil) }
}

// segmentNameTaken reports whether the library has a segment of that name,
// whatever its case.
func segmentNameTaken(ctx context.Context, lib library.Library, name string) (bool, error) {
	page, err := lib.Segments(ctx, library.Query{Search: name, PageSize: models.MaxPageSize})
	if err != nil {
		return false, err
	}
	for _, s := range page.List {
		if strings.EqualFold(strings.TrimSpace(s.Name), strings.TrimSpace(name)) {
			return true, nil
		}
	}
	return false, nil
}

// SetExport checks and saves a workflow's "Update shared audience"
// activity: a new segment name must be free in the library.
func (s *Service) SetExport(ctx context.Context, actor models.Actor, workflowID int64, in models.ExportInput) (*models.Workflow, error) {
	if in.SegmentID <= 0 && strings.TrimSpace(in.NewSegmentName) != "" {
		lib, err := s.exportLibrary(ctx)
		if err != nil {
			return nil, err
		}
		taken, err := segmentNameTaken(ctx, lib, in.NewSegmentName)
		if err != nil {
			return nil, err
		}
		if taken {
			return nil, models.Invalid("newSegmentName", "a shared audience named %q already exists: select it in the list, or choose another name", strings.TrimSpace(in.NewSegmentName))
		}
	}
	if in.SegmentID > 0 {
		lib, err := s.exportLibrary(ctx)
		if err != nil {
			return nil, err
		}
		seg, err := lib.Segment(ctx, in.SegmentID)
		if errors.Is(err, models.ErrNotFound) {
			return nil, models.Invalid("sharedAudienceId", "the audience library has no audience %d: select one in the picker", in.SegmentID)
		}
		if err != nil {
			return nil, err
		}
		in.SegmentName = seg.Name
	}
	return s.Store.SetExport(ctx, actor, workflowID, in)
}
