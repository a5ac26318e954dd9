// Package audiencesync is the sync engine between recipient lists and the
// audience library: the importSharedAudience job that makes a list the
// reconciled members of a shared audience, the scheduler that re-syncs
// lists on time and when their audience changes, and the preview of a
// match rate before a list is saved.
package audiencesync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"audiencebridge/egress"
	"audiencebridge/library"
	"audiencebridge/models"
)

// Enqueuer adds a job inside a transaction of the store (worker.Engine).
type Enqueuer interface {
	EnqueueTx(ctx context.Context, tx *models.Store, args river.JobArgs, opts *river.InsertOpts) (int64, error)
}

// Observer is told of the runs a process ends.
type Observer interface {
	RunFinished(r *models.Run)
}

// observe tells the observer how a run ended, if it did.
func (s *Service) observe(ctx context.Context, runID int64) {
	if s.Observer == nil {
		return
	}
	r, err := s.Store.RunByID(context.WithoutCancel(ctx), runID)
	if err == nil && r.Finished() {
		s.Observer.RunFinished(r)
	}
}

// DefaultChangeDelay gathers a burst of changes to an audience into one sync.
const DefaultChangeDelay = 2 * time.Second

// Service requests, runs and previews syncs.
type Service struct {
	Store     *models.Store
	Libraries *library.Resolver
	// Jobs is the job engine; set once it exists (it runs this service's
	// workers).
	Jobs Enqueuer
	Log  *slog.Logger
	// ChangeDelay debounces audience changes; 0 is DefaultChangeDelay.
	ChangeDelay time.Duration
	// PollEvery is how often a remote library's segments are checked for a
	// change; 0 is DefaultPollEvery.
	PollEvery time.Duration
	// RetryBackoff is the wait before each retry of a run after a passing
	// fault; nil is DefaultRetryBackoff.
	RetryBackoff []time.Duration
	// ExportBatch is the recipient-id range of one export batch; 0 is
	// models.ExportBatchSize.
	ExportBatch int64
	// SliceTime is how long one attempt of an export works before the next
	// slice takes over; 0 is Slice.
	SliceTime time.Duration
	// Observer is told of every run this process ends (metrics).
	Observer Observer
	// Webhooks says which addresses notification webhooks may reach; the
	// zero value allows public addresses only.
	Webhooks egress.Policy
	// WebhookTimeout bounds one call of a webhook; 0 is WebhookTimeout.
	WebhookTimeout time.Duration

	lastPoll time.Time
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.Default()
	}
	return s.Log
}

// enqueue is the models.RunEnqueuer of import runs.
func (s *Service) enqueue(ctx context.Context, tx *models.Store, run *models.Run, at time.Time) error {
	if s.Jobs == nil {
		return errors.New("queue the sync: the console runs without a job engine")
	}
	// The job is available at once and waits by snoozing: the engine
	// promotes jobs scheduled for later only every few seconds.
	args := ImportArgs{RunID: run.ID}
	if at.After(tx.Now()) {
		args.NotBefore = at.UnixMilli()
	}
	_, err := s.Jobs.EnqueueTx(ctx, tx, args, nil)
	return err
}

// enqueueExport is the models.RunEnqueuer of export runs.
func (s *Service) enqueueExport(ctx context.Context, tx *models.Store, run *models.Run, _ time.Time) error {
	if s.Jobs == nil {
		return errors.New("queue the export: the console runs without a job engine")
	}
	_, err := s.Jobs.EnqueueTx(ctx, tx, ExportArgs{RunID: run.ID}, nil)
	return err
}

// RunWorkflow queues an export run of a workflow (or returns the one
// already waiting).
func (s *Service) RunWorkflow(ctx context.Context, workflowID int64, trigger models.RunTrigger, actor models.Actor) (*models.Run, error) {
	return s.Store.RequestWorkflowRun(ctx, workflowID, trigger, actor, nil, s.enqueueExport)
}

// ExportPreview counts the targeted recipients that would go to Result and
// to Complement through a data source, sending nothing.
func (s *Service) ExportPreview(ctx context.Context, conds models.Conditions, dataSource string) (result, complement int64, err error) {
	ds, err := s.Store.DataSourceByInternalName(ctx, dataSource)
	if errors.Is(err, models.ErrNotFound) {
		return 0, 0, models.Invalid("dataSource", "no AMC data source is named %q: choose one in the list", dataSource)
	}
	if err != nil {
		return 0, 0, err
	}
	return s.Store.ExportPreview(ctx, conds, ds.Rule())
}

// importLibrary is the library the importSharedAudience account points at.
func (s *Service) importLibrary(ctx context.Context) (library.Library, error) {
	return s.Libraries.For(ctx, models.ImportAccount)
}

// CreateList checks the audience in the library, completes what the
// window completes (label, description, the matching data source), stores
// the list and queues its first import.
func (s *Service) CreateList(ctx context.Context, actor models.Actor, in models.SharedAudienceInput) (*models.List, *models.Run, error) {
	if in.SegmentID > 0 {
		lib, err := s.importLibrary(ctx)
		if err != nil {
			return nil, nil, err
		}
		seg, err := lib.Segment(ctx, in.SegmentID)
		switch {
		case errors.Is(err, models.ErrNotFound):
			return nil, nil, models.Invalid("sharedAudienceId", "the audience library has no audience %d: select one in the picker", in.SegmentID)
		case err != nil:
			return nil, nil, err
		case !seg.Active():
			return nil, nil, models.Invalid("sharedAudienceId", "the audience %q is inactive in the library: activate it there first, or select another", seg.Name)
		}
		in.SegmentName = seg.Name
		if strings.TrimSpace(in.Label) == "" {
			in.Label = seg.Name
		}
		if strings.TrimSpace(in.Description) == "" {
			in.Description = seg.Description
		}
		if strings.TrimSpace(in.DataSource) == "" {
			if ds, err := s.Store.DataSourceForAAM(ctx, seg.DataSourceID); err == nil {
				in.DataSource = ds.InternalName
			}
		}
	}
	return s.Store.CreateSharedAudienceList(ctx, actor, in, s.enqueue)
}

// Sync queues an import of a list now (or returns the one already waiting).
func (s *Service) Sync(ctx context.Context, listID int64, trigger models.RunTrigger, actor models.Actor) (*models.Run, error) {
	run, _, err := s.Store.RequestListSync(ctx, models.SyncRequest{ListID: listID, Trigger: trigger, Actor: actor}, s.enqueue)
	return run, err
}

// Retry queues a new run of a failed or cancelled run's list or workflow.
func (s *Service) Retry(ctx context.Context, runID int64, actor models.Actor) (*models.Run, error) {
	old, err := s.Store.RunByID(ctx, runID)
	if err != nil {
		return nil, err
	}
	if !old.Retryable() {
		return nil, &models.ConflictError{Message: fmt.Sprintf("run #%d is %s: only a failed or cancelled run can be retried", old.ID, old.Status)}
	}
	if old.WorkflowID != nil {
		return s.Store.RequestWorkflowRun(ctx, *old.WorkflowID, models.TriggerRetry, actor, &old.ID, s.enqueueExport)
	}
	if old.ListID == nil {
		return nil, &models.ConflictError{Message: fmt.Sprintf("run #%d has no list to synchronise", old.ID)}
	}
	run, _, err := s.Store.RequestListSync(ctx, models.SyncRequest{ListID: *old.ListID, Trigger: models.TriggerRetry, Actor: actor, RetryOf: &old.ID}, s.enqueue)
	return run, err
}

// SegmentChanged queues a sync of every list built on an embedded segment
// whose members changed, a moment later so a burst of changes makes one.
// It is the embedded library's Changed hook.
func (s *Service) SegmentChanged(ctx context.Context, sid int64) {
	if s.Libraries == nil {
		return
	}
	lib, err := s.importLibrary(ctx)
	if err != nil {
		s.log().Warn("audience change not followed: the import account cannot be read", "sid", sid, "error", err)
		return
	}
	if _, embedded := lib.(*library.Embedded); !embedded {
		return // lists follow a remote library, which is polled
	}
	s.queueListsOf(ctx, sid)
}

func (s *Service) queueListsOf(ctx context.Context, sid int64) {
	lists, err := s.Store.SharedAudienceLists(ctx, sid)
	if err != nil {
		s.log().Error("audience change not followed", "sid", sid, "error", err)
		return
	}
	delay := s.ChangeDelay
	if delay <= 0 {
		delay = DefaultChangeDelay
	}
	for _, l := range lists {
		run, created, err := s.Store.RequestListSync(ctx, models.SyncRequest{ListID: l.ID, Trigger: models.TriggerAudienceChanged,
			Actor: models.SystemActor("audience change"), Delay: delay}, s.enqueue)
		if err != nil {
			s.log().Error("audience change: could not queue a sync", "list", l.ID, "sid", sid, "error", err)
			continue
		}
		if created {
			s.log().Info("audience changed: sync queued", "list", l.ID, "sid", sid, "run", run.ID)
		}
	}
}

// New builds the service over the embedded library and the external
// accounts, whose secrets are sealed under the session secret, and makes
// it the embedded library's change hook.
func New(store *models.Store, sessionSecret []byte, embedded *library.Embedded, log *slog.Logger) (*Service, error) {
	secrets, err := models.NewSecretBox(sessionSecret)
	if err != nil {
		return nil, err
	}
	s := &Service{Store: store, Log: log, Libraries: &library.Resolver{Store: store, Secrets: secrets, Embedded: embedded}}
	embedded.Changed = func(ctx context.Context, sid int64) { s.SegmentChanged(context.WithoutCancel(ctx), sid) }
	return s, nil
}

func (s *Service) slice() time.Duration {
	if s.SliceTime > 0 {
		return s.SliceTime
	}
	return Slice
}
