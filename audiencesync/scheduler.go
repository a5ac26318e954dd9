package audiencesync

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"audiencebridge/library"
	"audiencebridge/models"
)

// SchedulerArgs is the periodic job that queues due syncs, takes over runs
// whose worker died, and polls a remote library for changed audiences.
type SchedulerArgs struct{}

// Kind names the job for the engine.
func (SchedulerArgs) Kind() string { return "audienceSyncScheduler" }

// InsertOpts keeps one scheduler job waiting at a time.
func (SchedulerArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: SchedulerEvery}}
}

// SchedulerEvery is how often the scheduler runs; a run whose worker died
// is taken over within RunStaleAfter plus this.
const SchedulerEvery = 10 * time.Second

// DefaultPollEvery is how often a remote library is asked whether the
// audiences of lists changed.
const DefaultPollEvery = time.Minute

// PeriodicJobs are the engine's periodic jobs.
func PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(SchedulerEvery),
		func() (river.JobArgs, *river.InsertOpts) { return SchedulerArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true, ID: "audienceSyncScheduler"})}
}

// SchedulerWorker runs the scheduler.
type SchedulerWorker struct {
	river.WorkerDefaults[SchedulerArgs]
	Service *Service
}

// Work does one round of the scheduler.
func (w *SchedulerWorker) Work(ctx context.Context, _ *river.Job[SchedulerArgs]) error {
	return w.Service.Tick(ctx)
}

// pruneImportRowsPerTick bounds the staging rows one tick deletes: a
// million-row import is cleared within a few ticks.
const pruneImportRowsPerTick = 500_000

// Tick queues the syncs that are due, revives orphaned runs, prunes the
// staging rows of ended imports and, every PollEvery, polls a remote
// library.
func (s *Service) Tick(ctx context.Context) error {
	due, err := s.Store.DueLists(ctx)
	if err != nil {
		return err
	}
	for _, id := range due {
		if _, _, err := s.Store.RequestListSync(ctx, models.SyncRequest{ListID: id, Trigger: models.TriggerSchedule,
			Actor: models.SystemActor("schedule")}, s.enqueue); err != nil {
			s.log().Error("scheduled sync not queued", "list", id, "error", err)
		}
	}
	workflows, err := s.Store.DueWorkflows(ctx)
	if err != nil {
		return err
	}
	for _, id := range workflows {
		if _, err := s.Store.RequestWorkflowRun(ctx, id, models.TriggerSchedule, models.SystemActor("schedule"), nil, s.enqueueExport); err != nil {
			s.log().Error("scheduled workflow run not queued", "workflow", id, "error", err)
			// A workflow that cannot run moves its schedule on rather than
			// failing every tick.
			if perr := s.Store.PlanNextWorkflowRun(ctx, id); perr != nil {
				return perr
			}
		}
	}
	orphans, err := s.Store.OrphanedRuns(ctx)
	if err != nil {
		return err
	}
	for _, r := range orphans {
		if err := s.revive(ctx, r); err != nil {
			s.log().Error("orphaned run not taken over", "run", r.ID, "error", err)
		}
	}
	// The staging rows of ended imports go in short transactions.
	if _, err := s.Store.PruneImportStaging(ctx, pruneImportRowsPerTick); err != nil {
		s.log().Error("staging rows of ended imports not pruned", "error", err)
	}
	every := s.PollEvery
	if every <= 0 {
		every = DefaultPollEvery
	}
	if now := time.Now(); now.Sub(s.lastPoll) >= every {
		s.lastPoll = now
		s.pollRemote(ctx)
	}
	return nil
}

// revive queues a job that takes over a run whose worker stopped beating,
// without waiting for the engine to rescue the dead job.
func (s *Service) revive(ctx context.Context, r *models.Run) error {
	var seen int64
	if r.HeartbeatAt != nil {
		seen = r.HeartbeatAt.UnixMilli()
	}
	var args river.JobArgs = ImportArgs{RunID: r.ID, Revival: seen}
	if r.Kind == models.ExportRun {
		args = ExportArgs{RunID: r.ID, Revival: seen}
	}
	s.log().Warn("run left running by a stopped worker: taking it over", "run", r.ID, "kind", r.Kind)
	return s.Store.Tx(ctx, func(tx *models.Store) error {
		_, err := s.Jobs.EnqueueTx(ctx, tx, args, nil)
		return err
	})
}

// pollRemote queues a sync of each list whose remote audience changed
// since its last sync: a remote library has no hook to call.
func (s *Service) pollRemote(ctx context.Context) {
	lib, err := s.importLibrary(ctx)
	if err != nil {
		return
	}
	if _, embedded := lib.(*library.Embedded); embedded {
		return
	}
	lists, err := s.Store.AllSharedAudienceLists(ctx, 1000)
	if err != nil {
		s.log().Error("remote audiences not polled", "error", err)
		return
	}
	checked := map[int64]bool{}
	for _, l := range lists {
		if l.SegmentID == nil || checked[*l.SegmentID] {
			continue
		}
		seg, err := lib.Segment(ctx, *l.SegmentID)
		if err != nil {
			continue // the next sync reports it
		}
		// A list never synced waits for its schedule instead.
		if l.SegmentUpdatedAt != nil && seg.UpdateTime.After(*l.SegmentUpdatedAt) {
			checked[*l.SegmentID] = true
			s.queueListsOf(ctx, *l.SegmentID)
		}
	}
}
