package models

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Workflow is a targeting workflow: a Query activity, then an "Update
// shared audience" activity with its Result and Complement transitions.
type Workflow struct {
	ID                int64
	Label             string
	InternalName      string
	Description       string
	HasQuery          bool
	QueryLabel        string
	Conditions        string
	HasExport         bool
	ExportLabel       string
	SegmentID         *int64
	SegmentName       string
	NewSegmentName    string
	DataSourceID      *int64
	ResultLabel       string
	ComplementEnabled bool
	ComplementLabel   string
	ScheduleKind      string
	ScheduleTime      string
	ScheduleHours     int
	NextRunAt         *time.Time
	LastRunID         *int64
	CreatedBy         *int64
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// TableName tells GORM where workflows live.
func (Workflow) TableName() string { return "workflows" }

// Query returns the workflow's conditions.
func (w *Workflow) Query() Conditions {
	c, _ := ParseConditions(w.Conditions) // stored only once validated
	return c
}

// Ready says what the workflow still needs before it can run, or "".
func (w *Workflow) Ready() string {
	switch {
	case !w.HasQuery:
		return "add a Query activity first"
	case !w.HasExport:
		return "add an Update shared audience activity after the query"
	case w.SegmentID == nil && w.NewSegmentName == "":
		return "choose the shared audience in the Update shared audience activity"
	case w.DataSourceID == nil:
		return "choose the AMC data source in the Update shared audience activity"
	}
	return ""
}

// Workflow defaults, as Adobe labels them.
const (
	DefaultExportLabel     = "Save as shared audience"
	DefaultResultLabel     = "Result"
	DefaultComplementLabel = "Complement"
	MaxWorkflowLabel       = 128
)

var workflowNamePattern = listNamePattern

// WorkflowInput is a new or renamed workflow.
type WorkflowInput struct {
	Label        string
	InternalName string
	Description  string
}

func (in *WorkflowInput) validate() error {
	in.Label, in.InternalName, in.Description = strings.TrimSpace(in.Label), strings.TrimSpace(in.InternalName), strings.TrimSpace(in.Description)
	var v ValidationErrors
	switch {
	case in.Label == "":
		v.Add("label", "enter a label")
	case utf8.RuneCountInString(in.Label) > MaxWorkflowLabel:
		v.Add("label", "use at most %d characters", MaxWorkflowLabel)
	}
	if in.InternalName != "" && !workflowNamePattern.MatchString(in.InternalName) {
		v.Add("internalName", "start with a letter and use only letters, digits and _ (at most 64), such as WKF3")
	}
	if utf8.RuneCountInString(in.Description) > MaxListDescriptionLength {
		v.Add("description", "use at most %d characters", MaxListDescriptionLength)
	}
	return v.Err()
}

func (s *Store) nextWorkflowName(ctx context.Context) (string, error) {
	var maxID int64
	if err := s.q(ctx).Model(&Workflow{}).Select("COALESCE(MAX(id), 0)").Scan(&maxID).Error; err != nil {
		return "", fmt.Errorf("propose an internal name: %w", err)
	}
	for n := maxID + 1; ; n++ {
		name := "WKF" + strconv.FormatInt(n, 10)
		var taken int64
		if err := s.q(ctx).Model(&Workflow{}).Where("internal_name = ?", name).Count(&taken).Error; err != nil {
			return "", fmt.Errorf("propose an internal name: %w", err)
		}
		if taken == 0 {
			return name, nil
		}
	}
}

func (s *Store) workflowNameFree(ctx context.Context, name string, except int64) error {
	var taken int64
	if err := s.q(ctx).Model(&Workflow{}).Where("internal_name = ? AND id <> ?", name, except).Count(&taken).Error; err != nil {
		return fmt.Errorf("check internal name: %w", err)
	}
	if taken > 0 {
		return &ConflictError{Field: "internalName", Message: fmt.Sprintf("a workflow named %s already exists: choose another internal name", name)}
	}
	return nil
}

type workflowSnapshot struct {
	Label        string `json:"label"`
	InternalName string `json:"internalName"`
	Conditions   string `json:"conditions,omitempty"`
	Audience     string `json:"audience,omitempty"`
	DataSourceID *int64 `json:"dataSourceId,omitempty"`
	Complement   bool   `json:"complementEnabled"`
	Schedule     string `json:"schedule,omitempty"`
}

func (w *Workflow) snapshot() workflowSnapshot {
	audience := w.SegmentName
	if w.SegmentID == nil && w.NewSegmentName != "" {
		audience = "new: " + w.NewSegmentName
	}
	return workflowSnapshot{Label: w.Label, InternalName: w.InternalName, Conditions: w.Conditions, Audience: audience,
		DataSourceID: w.DataSourceID, Complement: w.ComplementEnabled, Schedule: w.ScheduleKind + " " + w.ScheduleTime + " " + strconv.Itoa(w.ScheduleHours)}
}

// CreateWorkflow stores an empty workflow; an empty internal name gets the
// next WKF<n>.
func (s *Store) CreateWorkflow(ctx context.Context, actor Actor, in WorkflowInput) (*Workflow, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	w := &Workflow{Label: in.Label, InternalName: in.InternalName, Description: in.Description, QueryLabel: "Query", Conditions: "[]",
		ExportLabel: DefaultExportLabel, ResultLabel: DefaultResultLabel, ComplementLabel: DefaultComplementLabel, ScheduleKind: "once", CreatedBy: actor.OperatorID}
	generated := w.InternalName == ""
	err := s.Tx(ctx, func(tx *Store) error {
		if w.InternalName == "" {
			name, err := tx.nextWorkflowName(ctx)
			if err != nil {
				return err
			}
			w.InternalName = name
		}
		if !generated {
			if err := tx.workflowNameFree(ctx, w.InternalName, 0); err != nil {
				return err
			}
		}
		w.CreatedAt, w.UpdatedAt = tx.Now(), tx.Now()
		if err := tx.createNamed(ctx, w, &w.InternalName, generated, func() (string, error) { return tx.nextWorkflowName(ctx) }); err != nil {
			return err
		}
		return tx.recordAudit(ctx, actor, AuditEntry{Action: "workflow.create", TargetType: "workflow", TargetID: fmt.Sprint(w.ID),
			TargetLabel: w.InternalName, Summary: fmt.Sprintf("Created workflow %q (%s)", w.Label, w.InternalName), After: w.snapshot()})
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// WorkflowByID loads a workflow.
func (s *Store) WorkflowByID(ctx context.Context, id int64) (*Workflow, error) {
	var w Workflow
	if err := s.q(ctx).First(&w, id).Error; err != nil {
		return nil, notFound(err, fmt.Sprintf("workflow #%d", id))
	}
	return &w, nil
}

// changeWorkflow applies fn to a workflow and stores it, audited.
func (s *Store) changeWorkflow(ctx context.Context, actor Actor, id int64, action string, fn func(tx *Store, w *Workflow) error) (*Workflow, error) {
	var out *Workflow
	err := s.Tx(ctx, func(tx *Store) error {
		w, err := tx.WorkflowByID(ctx, id)
		if err != nil {
			return err
		}
		before := w.snapshot()
		if err := fn(tx, w); err != nil {
			return err
		}
		w.UpdatedAt = tx.Now()
		if err := tx.q(ctx).Select("*").Omit("id", "created_at", "created_by").Save(w).Error; err != nil {
			return fmt.Errorf("save workflow: %w", err)
		}
		out = w
		return tx.recordAudit(ctx, actor, AuditEntry{Action: "workflow." + action, TargetType: "workflow", TargetID: fmt.Sprint(w.ID),
			TargetLabel: w.InternalName, Summary: fmt.Sprintf("Workflow %s: %s", w.InternalName, action), Before: before, After: w.snapshot()})
	})
	return out, err
}

// RenameWorkflow changes a workflow's label, internal name and description.
func (s *Store) RenameWorkflow(ctx context.Context, actor Actor, id int64, in WorkflowInput) (*Workflow, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	return s.changeWorkflow(ctx, actor, id, "rename", func(tx *Store, w *Workflow) error {
		if in.InternalName == "" {
			in.InternalName = w.InternalName
		}
		if err := tx.workflowNameFree(ctx, in.InternalName, w.ID); err != nil {
			return err
		}
		w.Label, w.InternalName, w.Description = in.Label, in.InternalName, in.Description
		return nil
	})
}

// QueryInput is the Query activity's dialog.
type QueryInput struct {
	Label      string
	Conditions Conditions
}

// SetQuery adds or changes the Query activity.
func (s *Store) SetQuery(ctx context.Context, actor Actor, id int64, in QueryInput) (*Workflow, error) {
	in.Label = strings.TrimSpace(in.Label)
	if in.Label == "" {
		in.Label = "Query"
	}
	if utf8.RuneCountInString(in.Label) > MaxWorkflowLabel {
		return nil, Invalid("queryLabel", "use at most %d characters", MaxWorkflowLabel)
	}
	if err := s.ValidateConditions(ctx, in.Conditions); err != nil {
		return nil, err
	}
	return s.changeWorkflow(ctx, actor, id, "query", func(_ *Store, w *Workflow) error {
		w.HasQuery, w.QueryLabel, w.Conditions = true, in.Label, in.Conditions.JSON()
		return nil
	})
}

// ExportInput is the "Update shared audience" activity's dialog.
type ExportInput struct {
	Label string
	// SegmentID is an existing audience; NewSegmentName one to create on
	// the first run (checked free in the library by the caller).
	SegmentID         int64
	SegmentName       string
	NewSegmentName    string
	DataSource        string
	ResultLabel       string
	ComplementEnabled bool
	ComplementLabel   string
}

// SetExport adds or changes the "Update shared audience" activity.
func (s *Store) SetExport(ctx context.Context, actor Actor, id int64, in ExportInput) (*Workflow, error) {
	in.Label, in.ResultLabel, in.ComplementLabel = strings.TrimSpace(in.Label), strings.TrimSpace(in.ResultLabel), strings.TrimSpace(in.ComplementLabel)
	in.NewSegmentName = strings.TrimSpace(in.NewSegmentName)
	if in.Label == "" {
		in.Label = DefaultExportLabel
	}
	if in.ResultLabel == "" {
		in.ResultLabel = DefaultResultLabel
	}
	if in.ComplementLabel == "" {
		in.ComplementLabel = DefaultComplementLabel
	}
	var v ValidationErrors
	for field, val := range map[string]string{"label": in.Label, "resultLabel": in.ResultLabel, "complementLabel": in.ComplementLabel} {
		if utf8.RuneCountInString(val) > MaxWorkflowLabel {
			v.Add(field, "use at most %d characters", MaxWorkflowLabel)
		}
	}
	switch {
	case in.SegmentID <= 0 && in.NewSegmentName == "":
		v.Add("sharedAudienceId", "select a shared audience, or type a segment name to create one")
	case in.SegmentID <= 0 && utf8.RuneCountInString(in.NewSegmentName) > MaxSegmentNameLength:
		v.Add("newSegmentName", "use at most %d characters", MaxSegmentNameLength)
	}
	if strings.TrimSpace(in.DataSource) == "" {
		v.Add("dataSource", "select an AMC data source")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.changeWorkflow(ctx, actor, id, "export", func(tx *Store, w *Workflow) error {
		ds, err := tx.DataSourceByInternalName(ctx, strings.TrimSpace(in.DataSource))
		if errors.Is(err, ErrNotFound) {
			return Invalid("dataSource", "no AMC data source is named %q: choose one in the list", in.DataSource)
		}
		if err != nil {
			return err
		}
		w.HasExport, w.ExportLabel, w.DataSourceID = true, in.Label, &ds.ID
		w.ResultLabel, w.ComplementEnabled, w.ComplementLabel = in.ResultLabel, in.ComplementEnabled, in.ComplementLabel
		if in.SegmentID > 0 {
			sid := in.SegmentID
			w.SegmentID, w.SegmentName, w.NewSegmentName = &sid, in.SegmentName, ""
		} else {
			w.SegmentID, w.SegmentName, w.NewSegmentName = nil, "", in.NewSegmentName
		}
		return nil
	})
}

// RemoveActivity takes an activity off the diagram: "query" or "export".
func (s *Store) RemoveActivity(ctx context.Context, actor Actor, id int64, activity string) (*Workflow, error) {
	return s.changeWorkflow(ctx, actor, id, "remove "+activity, func(_ *Store, w *Workflow) error {
		switch activity {
		case "query":
			w.HasQuery, w.Conditions = false, "[]"
		case "export":
			w.HasExport = false
		default:
			return Invalid("activity", "unknown activity %q", activity)
		}
		return nil
	})
}

// AddActivity puts an activity with its defaults on the diagram.
func (s *Store) AddActivity(ctx context.Context, actor Actor, id int64, activity string) (*Workflow, error) {
	return s.changeWorkflow(ctx, actor, id, "add "+activity, func(_ *Store, w *Workflow) error {
		switch activity {
		case "query":
			w.HasQuery = true
		case "export":
			if !w.HasQuery {
				return &ConflictError{Field: "activity", Message: "an Update shared audience activity follows a Query: add the Query first"}
			}
			w.HasExport = true
		default:
			return Invalid("activity", "unknown activity %q", activity)
		}
		return nil
	})
}

// WorkflowSchedule is how often a workflow runs.
type WorkflowSchedule struct {
	// Kind is once, daily or hours.
	Kind  string
	Time  string // HH:MM UTC, for daily
	Hours int    // for hours
}

// NextRun is when a schedule runs next after t, or nil for once.
func (sc WorkflowSchedule) NextRun(t time.Time) *time.Time {
	switch sc.Kind {
	case "daily":
		hm, err := time.Parse("15:04", sc.Time)
		if err != nil {
			return nil
		}
		next := time.Date(t.Year(), t.Month(), t.Day(), hm.Hour(), hm.Minute(), 0, 0, time.UTC)
		if !next.After(t) {
			next = next.AddDate(0, 0, 1)
		}
		return &next
	case "hours":
		if sc.Hours <= 0 {
			return nil
		}
		next := t.Add(time.Duration(sc.Hours) * time.Hour)
		return &next
	}
	return nil
}

// SetWorkflowSchedule changes when a workflow runs.
func (s *Store) SetWorkflowSchedule(ctx context.Context, actor Actor, id int64, sc WorkflowSchedule) (*Workflow, error) {
	sc.Time = strings.TrimSpace(sc.Time)
	var v ValidationErrors
	switch sc.Kind {
	case "once":
		sc.Time, sc.Hours = "", 0
	case "daily":
		if _, err := time.Parse("15:04", sc.Time); err != nil {
			v.Add("scheduleTime", "enter the time of day as HH:MM (UTC), such as 06:30")
		}
		sc.Hours = 0
	case "hours":
		if sc.Hours < 1 || sc.Hours > 168 {
			v.Add("scheduleHours", "run every 1 to 168 hours")
		}
		sc.Time = ""
	default:
		v.Add("scheduleKind", "choose once, daily or every N hours")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.changeWorkflow(ctx, actor, id, "schedule", func(tx *Store, w *Workflow) error {
		w.ScheduleKind, w.ScheduleTime, w.ScheduleHours = sc.Kind, sc.Time, sc.Hours
		w.NextRunAt = sc.NextRun(tx.Now())
		return nil
	})
}

// DuplicateWorkflow copies a workflow's activities under a new name; the
// copy has no run and no schedule.
func (s *Store) DuplicateWorkflow(ctx context.Context, actor Actor, id int64) (*Workflow, error) {
	var out *Workflow
	err := s.Tx(ctx, func(tx *Store) error {
		w, err := tx.WorkflowByID(ctx, id)
		if err != nil {
			return err
		}
		c := *w
		c.ID, c.LastRunID, c.NextRunAt, c.ScheduleKind, c.ScheduleTime, c.ScheduleHours = 0, nil, nil, "once", "", 0
		c.CreatedBy = actor.OperatorID
		if c.InternalName, err = tx.nextWorkflowName(ctx); err != nil {
			return err
		}
		c.Label = truncateRunes("Copy of "+w.Label, MaxWorkflowLabel)
		c.CreatedAt, c.UpdatedAt = tx.Now(), tx.Now()
		if err := tx.createNamed(ctx, &c, &c.InternalName, true, func() (string, error) { return tx.nextWorkflowName(ctx) }); err != nil {
			return err
		}
		out = &c
		return tx.recordAudit(ctx, actor, AuditEntry{Action: "workflow.duplicate", TargetType: "workflow", TargetID: fmt.Sprint(c.ID),
			TargetLabel: c.InternalName, Summary: fmt.Sprintf("Duplicated workflow %s as %s", w.InternalName, c.InternalName), After: c.snapshot()})
	})
	return out, err
}

// DeleteWorkflow deletes a workflow and its runs (not the audience).
func (s *Store) DeleteWorkflow(ctx context.Context, actor Actor, id int64) error {
	return s.Tx(ctx, func(tx *Store) error {
		w, err := tx.WorkflowByID(ctx, id)
		if err != nil {
			return err
		}
		var running int64
		if err := tx.q(ctx).Model(&Run{}).Where("workflow_id = ? AND status IN ?", id, []RunStatus{RunQueued, RunRunning}).Count(&running).Error; err != nil {
			return fmt.Errorf("delete workflow: %w", err)
		}
		if running > 0 {
			return &ConflictError{Message: fmt.Sprintf("%s is running: wait for its run to end before deleting it", w.InternalName)}
		}
		if err := tx.q(ctx).Where("workflow_id = ?", id).Delete(&Run{}).Error; err != nil {
			return fmt.Errorf("delete workflow runs: %w", err)
		}
		if err := tx.q(ctx).Delete(&Workflow{}, id).Error; err != nil {
			return fmt.Errorf("delete workflow: %w", err)
		}
		return tx.recordAudit(ctx, actor, AuditEntry{Action: "workflow.delete", TargetType: "workflow", TargetID: fmt.Sprint(id),
			TargetLabel: w.InternalName, Summary: fmt.Sprintf("Deleted workflow %q (%s)", w.Label, w.InternalName), Before: w.snapshot()})
	})
}

// WorkflowQuery searches and pages workflows, most recently modified first.
type WorkflowQuery struct {
	Search string
	PageRequest
}

// ListWorkflows returns one page of workflows.
func (s *Store) ListWorkflows(ctx context.Context, q WorkflowQuery) (Page[*Workflow], error) {
	q.PageRequest = q.PageRequest.Normalize()
	db := matchAny(s.q(ctx).Model(&Workflow{}), q.Search, "label", "internal_name", "description", "segment_name", "new_segment_name")
	var total int64
	if err := db.Count(&total).Error; err != nil {
		return Page[*Workflow]{}, fmt.Errorf("count workflows: %w", err)
	}
	var out []*Workflow
	if err := db.Order("updated_at DESC").Order("id DESC").Limit(q.PageSize).Offset(q.Offset()).Find(&out).Error; err != nil {
		return Page[*Workflow]{}, fmt.Errorf("list workflows: %w", err)
	}
	return NewPage(q.PageRequest, total, out), nil
}

// WorkflowsUsingDataSource is for DataSourceUsage.
func (s *Store) workflowsUsing(ctx context.Context, dataSourceID int64) ([]string, error) {
	var rows []struct{ Label, InternalName string }
	if err := s.q(ctx).Model(&Workflow{}).Select("label", "internal_name").Where("data_source_id = ?", dataSourceID).Limit(4).Scan(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = fmt.Sprintf("workflow %q (%s)", r.Label, r.InternalName)
	}
	return out, nil
}

// RequestWorkflowRun queues an export run of a workflow that is ready; a
// workflow has at most one queued run.
func (s *Store) RequestWorkflowRun(ctx context.Context, id int64, trigger RunTrigger, actor Actor, retryOf *int64, enqueue RunEnqueuer) (*Run, error) {
	var run *Run
	err := s.Tx(ctx, func(tx *Store) error {
		w, err := tx.WorkflowByID(ctx, id)
		if err != nil {
			return err
		}
		if why := w.Ready(); why != "" {
			return &ConflictError{Message: fmt.Sprintf("%s cannot run yet: %s", w.InternalName, why)}
		}
		var queued Run
		err = tx.q(ctx).Where("workflow_id = ? AND status = ?", id, RunQueued).First(&queued).Error
		if err == nil {
			run = &queued
			return nil
		}
		if !errors.Is(err, gorm.ErrRecordNotFound) {
			return fmt.Errorf("queue a run: %w", err)
		}
		now := tx.Now()
		r := &Run{Kind: ExportRun, WorkflowID: &w.ID, Status: RunQueued, Trigger: trigger, RequestedBy: actor.OperatorID, RetryOf: retryOf,
			SegmentID: w.SegmentID, DataSourceID: w.DataSourceID, QueuedAt: now}
		ierr := tx.Tx(ctx, func(sp *Store) error { return sp.q(ctx).Create(r).Error })
		if errors.Is(ierr, gorm.ErrDuplicatedKey) {
			if err := tx.q(ctx).Where("workflow_id = ? AND status = ?", id, RunQueued).First(&queued).Error; err != nil {
				return fmt.Errorf("queue a run: %w", err)
			}
			run = &queued
			return nil
		}
		if ierr != nil {
			return fmt.Errorf("queue a run: %w", ierr)
		}
		if err := tx.q(ctx).Model(&Workflow{}).Where("id = ?", id).Update("last_run_id", r.ID).Error; err != nil {
			return fmt.Errorf("queue a run: %w", err)
		}
		if err := enqueue(ctx, tx, r, now); err != nil {
			return err
		}
		run = r
		return nil
	})
	return run, err
}

// DueWorkflows returns scheduled workflows whose next run is due and that
// have no run waiting or running.
func (s *Store) DueWorkflows(ctx context.Context) ([]int64, error) {
	var ids []int64
	err := s.q(ctx).Model(&Workflow{}).Where("schedule_kind <> 'once' AND next_run_at <= ?", s.Now()).
		Where("NOT EXISTS (SELECT 1 FROM sync_runs r WHERE r.workflow_id = workflows.id AND r.status IN ?)", []RunStatus{RunQueued, RunRunning}).
		Order("next_run_at").Limit(500).Pluck("id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("find workflows due to run: %w", err)
	}
	return ids, nil
}

// PlanNextWorkflowRun moves a scheduled workflow's next run on.
func (s *Store) PlanNextWorkflowRun(ctx context.Context, id int64) error {
	w, err := s.WorkflowByID(ctx, id)
	if err != nil {
		return err
	}
	next := WorkflowSchedule{Kind: w.ScheduleKind, Time: w.ScheduleTime, Hours: w.ScheduleHours}.NextRun(s.Now())
	return s.q(ctx).Model(&Workflow{}).Where("id = ?", id).Update("next_run_at", next).Error
}

// lockWorkflow serialises claims of one workflow's runs on PostgreSQL.
func (s *Store) lockWorkflow(ctx context.Context, id int64) error {
	if s.dialect != Postgres {
		return nil
	}
	if err := s.q(ctx).Clauses(clause.Locking{Strength: "UPDATE"}).Select("id").First(&Workflow{}, id).Error; err != nil {
		return notFound(err, fmt.Sprintf("workflow #%d", id))
	}
	return nil
}
