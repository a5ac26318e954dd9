package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// RunKind tells an import sync from an export.
type RunKind string

// The kinds of SPEC.md "Sync runs".
const (
	ImportRun RunKind = "import"
	ExportRun RunKind = "export"
)

// RunStatus is where a run stands.
type RunStatus string

// The statuses of SPEC.md "Sync runs".
const (
	RunQueued    RunStatus = "queued"
	RunRunning   RunStatus = "running"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
	RunCancelled RunStatus = "cancelled"
)

// RunTrigger says what asked for a run.
type RunTrigger string

// The triggers of a run.
const (
	TriggerCreated         RunTrigger = "created"
	TriggerManual          RunTrigger = "manual"
	TriggerAPI             RunTrigger = "api"
	TriggerSchedule        RunTrigger = "schedule"
	TriggerAudienceChanged RunTrigger = "audienceChanged"
	TriggerRetry           RunTrigger = "retry"
)

// Label is the trigger as the run history shows it.
func (t RunTrigger) Label() string {
	switch t {
	case TriggerCreated:
		return "List saved"
	case TriggerManual:
		return "Synchronize now"
	case TriggerAPI:
		return "API"
	case TriggerSchedule:
		return "Schedule"
	case TriggerAudienceChanged:
		return "Audience changed"
	case TriggerRetry:
		return "Retry"
	}
	return string(t)
}

// Heartbeat timing: a running run refreshes heartbeat_at every RunHeartbeat;
// one whose heartbeat is older than RunStaleAfter belongs to a process that
// died and is taken over.
const (
	RunHeartbeat  = 2 * time.Second
	RunStaleAfter = 30 * time.Second
)

// Run is one sync run: an import into a list or an export of a workflow.
type Run struct {
	ID            int64
	Kind          RunKind
	ListID        *int64
	WorkflowID    *int64
	Status        RunStatus
	Trigger       RunTrigger
	RequestedBy   *int64
	RetryOf       *int64
	SegmentID     *int64
	DataSourceID  *int64
	QueuedAt      time.Time
	StartedAt     *time.Time
	FinishedAt    *time.Time
	HeartbeatAt   *time.Time
	Attempts      int
	Phase         string
	ProgressDone  int64
	ProgressTotal int64
	Received      int64
	Reconciled    int64
	NotRecognized int64
	Malformed     int64
	HashMismatch  int64
	Added         int64
	Removed       int64
	Exported      int64
	Complement    int64
	ListSize      int64
	Error         string
	// ResumeAfter is where an interrupted export resumes (a recipient id).
	ResumeAfter int64
}

// TableName tells GORM where runs live.
func (Run) TableName() string { return "sync_runs" }

// subject is the column and id of what the run syncs: its list or its
// workflow.
func (r *Run) subject() (string, int64) {
	switch {
	case r.ListID != nil:
		return "list_id", *r.ListID
	case r.WorkflowID != nil:
		return "workflow_id", *r.WorkflowID
	}
	return "", 0
}

// TriggerLabel is the run's trigger in words; a manual export is a Run.
func (r *Run) TriggerLabel() string {
	if r.Kind == ExportRun && r.Trigger == TriggerManual {
		return "Run"
	}
	return r.Trigger.Label()
}

// Finished reports whether the run has ended, well or not.
func (r *Run) Finished() bool {
	return r.Status == RunSucceeded || r.Status == RunFailed || r.Status == RunCancelled
}

// Retryable reports whether Retry applies.
func (r *Run) Retryable() bool { return r.Status == RunFailed || r.Status == RunCancelled }

// MatchRate is the share of received members that reconciled, from 0 to 1.
func (r *Run) MatchRate() float64 {
	if r.Received == 0 {
		return 0
	}
	return float64(r.Reconciled) / float64(r.Received)
}

// NoRecipient is how many well-formed members matched no recipient.
func (r *Run) NoRecipient() int64 { return r.NotRecognized - r.Malformed - r.HashMismatch }

// Duration is how long the run ran (so far, while running).
func (r *Run) Duration(now time.Time) time.Duration {
	if r.StartedAt == nil {
		return 0
	}
	end := now
	if r.FinishedAt != nil {
		end = *r.FinishedAt
	}
	return end.Sub(*r.StartedAt)
}

// Percent is the progress from 0 to 100.
func (r *Run) Percent() int {
	switch {
	case r.Status == RunSucceeded:
		return 100
	case r.ProgressTotal <= 0:
		return 0
	case r.ProgressDone >= r.ProgressTotal:
		return 99
	}
	return int(r.ProgressDone * 100 / r.ProgressTotal)
}

// Errors of a run's life cycle.
var (
	// ErrRunBusy means another run of the same list is running: try later.
	ErrRunBusy = errors.New("another run of this list is running")
	// ErrRunFinished means the run ended already; there is nothing to do.
	ErrRunFinished = errors.New("the run has already finished")
	// ErrRunLost means the run stopped being this attempt's: it was
	// cancelled or taken over by another worker.
	ErrRunLost = errors.New("the run is no longer this worker's")
)

// RunEnqueuer adds the job of a new run inside the transaction that stored
// it, at the given time, so a run never exists without its job.
type RunEnqueuer func(ctx context.Context, tx *Store, run *Run, at time.Time) error

// SyncRequest asks for an import run of a shared-audience list.
type SyncRequest struct {
	ListID  int64
	Trigger RunTrigger
	Actor   Actor
	RetryOf *int64
	// Delay schedules the run later, to gather a burst of changes.
	Delay time.Duration
}

// RequestListSync queues an import run of a shared-audience list. A list
// has at most one queued run: asking again while one waits returns it, with
// created false.
func (s *Store) RequestListSync(ctx context.Context, req SyncRequest, enqueue RunEnqueuer) (run *Run, created bool, err error) {
	err = s.Tx(ctx, func(tx *Store) error {
		l, err := tx.ListByID(ctx, req.ListID)
		if err != nil {
			return err
		}
		if l.Type != SharedAudienceList {
			return &ConflictError{Message: fmt.Sprintf("%s is a regular list: only a shared-audience list synchronises", l.InternalName)}
		}
		if run, err = tx.queuedRun(ctx, l.ID); err == nil {
			return nil
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		now := tx.Now()
		r := &Run{Kind: ImportRun, ListID: &l.ID, Status: RunQueued, Trigger: req.Trigger, RequestedBy: req.Actor.OperatorID,
			RetryOf: req.RetryOf, SegmentID: l.SegmentID, DataSourceID: l.DataSourceID, QueuedAt: now}
		// In a savepoint: a concurrent request may have queued one since,
		// which a worker may even have started by the time it is read
		// (PostgreSQL reads what others committed): then queue anew.
		var ierr error
		for attempt := 0; attempt < 3; attempt++ {
			ierr = tx.Tx(ctx, func(sp *Store) error { return sp.q(ctx).Create(r).Error })
			if !errors.Is(ierr, gorm.ErrDuplicatedKey) {
				break
			}
			r.ID = 0
			if run, err = tx.queuedRun(ctx, l.ID); !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		if ierr != nil {
			return fmt.Errorf("queue a run: %w", ierr)
		}
		if err := tx.q(ctx).Model(&List{}).Where("id = ?", l.ID).Update("last_run_id", r.ID).Error; err != nil {
			return fmt.Errorf("queue a run: %w", err)
		}
		if err := enqueue(ctx, tx, r, now.Add(req.Delay)); err != nil {
			return err
		}
		run, created = r, true
		return nil
	})
	return run, created, err
}

func (s *Store) queuedRun(ctx context.Context, listID int64) (*Run, error) {
	var r Run
	err := s.q(ctx).Where("list_id = ? AND status = ?", listID, RunQueued).First(&r).Error
	if err != nil {
		return nil, notFound(err, fmt.Sprintf("queued run of list #%d", listID))
	}
	return &r, nil
}

// RunByID loads a run.
func (s *Store) RunByID(ctx context.Context, id int64) (*Run, error) {
	var r Run
	if err := s.q(ctx).First(&r, id).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("run #%d", id))
	}
	return &r, nil
}

// ClaimRun makes a run this attempt's: queued, or running in a process
// that died (stale heartbeat). It returns ErrRunFinished when the run has
// ended, and ErrRunBusy while another attempt or another run of the same
// list is alive — the two never overlap.
func (s *Store) ClaimRun(ctx context.Context, id int64) (*Run, error) {
	var claimed *Run
	err := s.Tx(ctx, func(tx *Store) error {
		r, err := tx.RunByID(ctx, id)
		if err != nil {
			return err
		}
		col, subject := r.subject()
		if subject != 0 && tx.dialect == Postgres {
			// Serialises the claims of one list's (or workflow's) runs across
			// workers.
			var lerr error
			if r.ListID != nil {
				lerr = tx.q(ctx).Clauses(clause.Locking{Strength: "UPDATE"}).Select("id").First(&List{}, subject).Error
				lerr = notFound(lerr, fmt.Sprintf("list #%d", subject))
			} else {
				lerr = tx.lockWorkflow(ctx, subject)
			}
			if lerr != nil {
				return lerr
			}
			if r, err = tx.RunByID(ctx, id); err != nil {
				return err
			}
		}
		if r.Finished() {
			claimed = r
			return ErrRunFinished
		}
		now := tx.Now()
		fresh := now.Add(-RunStaleAfter)
		if r.Status == RunRunning && r.HeartbeatAt != nil && r.HeartbeatAt.After(fresh) {
			return ErrRunBusy
		}
		if subject != 0 {
			var alive int64
			if err := tx.q(ctx).Model(&Run{}).Where(col+" = ? AND id <> ? AND status = ? AND heartbeat_at > ?", subject, r.ID, RunRunning, fresh).
				Count(&alive).Error; err != nil {
				return fmt.Errorf("claim run #%d: %w", id, err)
			}
			if alive > 0 {
				return ErrRunBusy
			}
			// Older runs of this subject left running by a dead process are
			// superseded by this one.
			if err := tx.q(ctx).Model(&Run{}).Where(col+" = ? AND id < ? AND status = ?", subject, r.ID, RunRunning).
				Updates(map[string]any{"status": RunFailed, "finished_at": now,
					"error": fmt.Sprintf("interrupted: the worker running it stopped, and run #%d replaced it", r.ID)}).Error; err != nil {
				return fmt.Errorf("claim run #%d: %w", id, err)
			}
		}
		started := r.StartedAt
		if started == nil {
			started = &now
		}
		if err := tx.q(ctx).Model(&Run{}).Where("id = ?", r.ID).Updates(map[string]any{"status": RunRunning, "started_at": *started,
			"heartbeat_at": now, "attempts": gorm.Expr("attempts + 1"), "error": "", "phase": "Starting"}).Error; err != nil {
			return fmt.Errorf("claim run #%d: %w", id, err)
		}
		claimed, err = tx.RunByID(ctx, id)
		return err
	})
	if errors.Is(err, ErrRunFinished) {
		return claimed, err
	}
	if err != nil {
		return nil, err
	}
	return claimed, nil
}

// RunProgress is what a running run reports as it goes.
type RunProgress struct {
	Phase       string
	Done, Total int64
}

// HeartbeatRun records a running run's progress and that its worker lives.
// ErrRunLost means it is no longer running here: stop.
func (s *Store) HeartbeatRun(ctx context.Context, id int64, p RunProgress) error {
	res := s.q(ctx).Model(&Run{}).Where("id = ? AND status = ?", id, RunRunning).
		Updates(map[string]any{"heartbeat_at": s.Now(), "phase": p.Phase, "progress_done": p.Done, "progress_total": p.Total})
	if res.Error != nil {
		return fmt.Errorf("record the progress of run #%d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrRunLost
	}
	return nil
}

// FailRun ends a run with an error the console shows as it is. A list's
// next scheduled sync is planned as after a success, so a failing audience
// is tried again on schedule.
func (s *Store) FailRun(ctx context.Context, id int64, message string) error {
	return s.Tx(ctx, func(tx *Store) error {
		r, err := tx.RunByID(ctx, id)
		if err != nil || r.Finished() {
			return err
		}
		now := tx.Now()
		if err := tx.q(ctx).Model(&Run{}).Where("id = ?", id).
			Updates(map[string]any{"status": RunFailed, "finished_at": now, "error": message, "phase": "Failed"}).Error; err != nil {
			return fmt.Errorf("fail run #%d: %w", id, err)
		}
		switch {
		case r.ListID != nil:
			return tx.planNextSync(ctx, *r.ListID, now)
		case r.WorkflowID != nil:
			return tx.PlanNextWorkflowRun(ctx, *r.WorkflowID)
		}
		return nil
	})
}

// planNextSync sets a list's next scheduled sync from its interval.
func (s *Store) planNextSync(ctx context.Context, listID int64, after time.Time) error {
	var every int
	if err := s.q(ctx).Model(&List{}).Where("id = ?", listID).Select("sync_every_minutes").Scan(&every).Error; err != nil {
		return fmt.Errorf("plan the next sync: %w", err)
	}
	var next *time.Time
	if every > 0 {
		t := after.Add(time.Duration(every) * time.Minute)
		next = &t
	}
	if err := s.q(ctx).Model(&List{}).Where("id = ?", listID).Update("next_sync_at", next).Error; err != nil {
		return fmt.Errorf("plan the next sync: %w", err)
	}
	return nil
}

// RunQuery filters and pages runs, newest first.
type RunQuery struct {
	ListID     int64
	WorkflowID int64
	Status     RunStatus
	PageRequest
}

// ListRuns returns one page of runs.
func (s *Store) ListRuns(ctx context.Context, q RunQuery) (Page[*Run], error) {
	q.PageRequest = q.PageRequest.Normalize()
	db := s.q(ctx).Model(&Run{})
	if q.ListID > 0 {
		db = db.Where("list_id = ?", q.ListID)
	}
	if q.WorkflowID > 0 {
		db = db.Where("workflow_id = ?", q.WorkflowID)
	}
	if q.Status != "" {
		db = db.Where("status = ?", q.Status)
	}
	var total int64
	if err := db.Count(&total).Error; err != nil {
		return Page[*Run]{}, fmt.Errorf("count runs: %w", err)
	}
	var out []*Run
	if err := db.Order("id DESC").Limit(q.PageSize).Offset(q.Offset()).Find(&out).Error; err != nil {
		return Page[*Run]{}, fmt.Errorf("list runs: %w", err)
	}
	return NewPage(q.PageRequest, total, out), nil
}

// RecentRuns returns a list's last n finished runs, oldest first, for its
// match-rate trend.
func (s *Store) RecentRuns(ctx context.Context, listID int64, n int) ([]*Run, error) {
	var out []*Run
	err := s.q(ctx).Where("list_id = ? AND status = ?", listID, RunSucceeded).Order("id DESC").Limit(n).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("recent runs of list #%d: %w", listID, err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// OrphanedRuns returns the runs left running by a process that died; not
// those waiting for the engine to retry them (their error is set).
func (s *Store) OrphanedRuns(ctx context.Context) ([]*Run, error) {
	var out []*Run
	err := s.q(ctx).Where("status = ? AND error = '' AND heartbeat_at < ?", RunRunning, s.Now().Add(-RunStaleAfter)).
		Order("id").Limit(100).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("find orphaned runs: %w", err)
	}
	return out, nil
}

// DueLists returns the shared-audience lists whose scheduled sync is due
// and that have no run waiting or running.
func (s *Store) DueLists(ctx context.Context) ([]int64, error) {
	var ids []int64
	err := s.q(ctx).Model(&List{}).Where("type = ? AND sync_every_minutes > 0 AND next_sync_at <= ?", SharedAudienceList, s.Now()).
		Where("NOT EXISTS (SELECT 1 FROM sync_runs r WHERE r.list_id = lists.id AND r.status IN ?)", []RunStatus{RunQueued, RunRunning}).
		Order("next_sync_at").Limit(500).Pluck("id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("find lists due for a sync: %w", err)
	}
	return ids, nil
}

// Unrecognized is an identifier a run did not carry, and why.
type Unrecognized struct {
	RunID      int64
	Identifier string
	Reason     string
}

// TableName tells GORM where the samples live.
func (Unrecognized) TableName() string { return "sync_unrecognized" }

// MaxUnrecognizedSample caps the identifiers a run keeps of those it did not
// carry; its counts stay exact.
const MaxUnrecognizedSample = 1000

// UnrecognizedSample returns a run's sample, by identifier.
func (s *Store) UnrecognizedSample(ctx context.Context, runID int64, limit int) ([]Unrecognized, error) {
	var out []Unrecognized
	if limit <= 0 || limit > MaxUnrecognizedSample {
		limit = MaxUnrecognizedSample
	}
	err := s.q(ctx).Where("run_id = ?", runID).Order("reason").Order("identifier").Limit(limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("read the unrecognised identifiers of run #%d: %w", runID, err)
	}
	return out, nil
}

// NoteRunRetry records why a running run's attempt failed and lets the
// engine's next attempt claim it at once: the run stays running, its error
// shown, its heartbeat cleared.
func (s *Store) NoteRunRetry(ctx context.Context, id int64, message string) error {
	err := s.q(ctx).Model(&Run{}).Where("id = ? AND status = ?", id, RunRunning).
		Updates(map[string]any{"heartbeat_at": nil, "error": message, "phase": "Waiting to retry"}).Error
	if err != nil {
		return fmt.Errorf("record the failed attempt of run #%d: %w", id, err)
	}
	return nil
}

// RunsByIDs loads runs by id, for the last runs of a page of lists.
func (s *Store) RunsByIDs(ctx context.Context, ids []int64) (map[int64]*Run, error) {
	return s.runsByIDs(ctx, ids)
}

// RunSummaries is RunsByIDs with only what a table's "last sync" cell
// shows: status, error and the counts of the match rate.
func (s *Store) RunSummaries(ctx context.Context, ids []int64) (map[int64]*Run, error) {
	return s.runsByIDs(ctx, ids, "id", "status", "error", "received", "reconciled")
}

// runsByIDs loads the runs by id with the columns (all without any).
func (s *Store) runsByIDs(ctx context.Context, ids []int64, columns ...string) (map[int64]*Run, error) {
	out := make(map[int64]*Run, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	db := s.q(ctx)
	if len(columns) > 0 {
		db = db.Select(columns)
	}
	var runs []*Run
	if err := db.Where("id IN ?", ids).Find(&runs).Error; err != nil {
		return nil, fmt.Errorf("load runs: %w", err)
	}
	for _, r := range runs {
		out[r.ID] = r
	}
	return out, nil
}

// QueueDepth counts the job engine's jobs by state (available, running,
// scheduled, retryable…), for /metrics and the diagnostics page.
func (s *Store) QueueDepth(ctx context.Context) (map[string]int64, error) {
	var rows []struct {
		State string
		N     int64
	}
	if err := s.q(ctx).Raw("SELECT state, COUNT(*) AS n FROM river_job GROUP BY state").Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("count queued jobs: %w", err)
	}
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.State] = r.N
	}
	return out, nil
}

// ReleaseRun hands a running run to the next slice of its job: still
// running, claimable at once.
func (s *Store) ReleaseRun(ctx context.Context, id int64) error {
	err := s.q(ctx).Model(&Run{}).Where("id = ? AND status = ?", id, RunRunning).
		Updates(map[string]any{"heartbeat_at": nil, "phase": "Continuing"}).Error
	if err != nil {
		return fmt.Errorf("hand run #%d to its next slice: %w", id, err)
	}
	return nil
}

// LastSucceededRuns returns, by workflow id, each workflow's last succeeded
// run: the one its transitions show. One query for a page of workflows.
func (s *Store) LastSucceededRuns(ctx context.Context, workflowIDs []int64) (map[int64]*Run, error) {
	out := make(map[int64]*Run, len(workflowIDs))
	if len(workflowIDs) == 0 {
		return out, nil
	}
	var runs []*Run
	err := s.q(ctx).Where("id IN (?)", s.q(ctx).Model(&Run{}).Select("MAX(id)").
		Where("workflow_id IN ? AND status = ?", workflowIDs, RunSucceeded).Group("workflow_id")).Find(&runs).Error
	if err != nil {
		return nil, fmt.Errorf("find the last succeeded runs: %w", err)
	}
	for _, r := range runs {
		out[*r.WorkflowID] = r
	}
	return out, nil
}
