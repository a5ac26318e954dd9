// Package workflows draws Profiles and Targets › Workflows: the list of
// targeting workflows, a workflow's diagram with its palette, the Query and
// Update shared audience dialogs, and its runs.
package workflows

import (
	"fmt"
	"strconv"
	"time"

	"audiencebridge/models"
	"audiencebridge/views/components"
	"audiencebridge/views/pages/lists"
)

// Elements HTMX refreshes.
const (
	ResultsID  = "workflow-results"
	CanvasID   = "workflow-canvas"
	DialogID   = "activity-dialog"
	CountID    = "query-count"
	RowsID     = "condition-rows"
	RunPanelID = "workflow-run"
	HistoryID  = "workflow-history"
	PreviewID  = "export-preview"
)

// Saved is the event a dialog's successful save sends: the page closes the
// dialog and redraws the diagram.
const Saved = "workflow-saved"

// Changed is the event an activity added from the palette sends: the run
// panel says again whether the workflow can run.
const Changed = "workflow-changed"

// Href is a workflow's page.
func Href(w *models.Workflow) string { return "/workflows/" + strconv.FormatInt(w.ID, 10) }

// ListVM is the Workflows table.
type ListVM struct {
	URL  components.ListURL
	Page models.Page[*models.Workflow]
	Runs map[int64]*models.Run
}

// Pager pages the table.
func (vm ListVM) Pager() components.Pager { return components.PagerFor(vm.Page, vm.URL, "#"+ResultsID) }

// LastRun is a workflow's last run, or nil.
func (vm ListVM) LastRun(w *models.Workflow) *models.Run {
	if w.LastRunID == nil {
		return nil
	}
	return vm.Runs[*w.LastRunID]
}

// Audience names a workflow's audience.
func Audience(w *models.Workflow) string {
	switch {
	case w.SegmentID != nil:
		return w.SegmentName
	case w.NewSegmentName != "":
		return w.NewSegmentName + " (created on the first run)"
	}
	return "—"
}

// ScheduleLabel says when a workflow runs.
func ScheduleLabel(w *models.Workflow) string {
	switch w.ScheduleKind {
	case "daily":
		return "Daily at " + w.ScheduleTime + " UTC"
	case "hours":
		if w.ScheduleHours == 1 {
			return "Every hour"
		}
		return fmt.Sprintf("Every %d hours", w.ScheduleHours)
	}
	return "Once, when run"
}

// NextRun says when a scheduled workflow runs next.
func NextRun(w *models.Workflow) string {
	if w.NextRunAt == nil {
		return "—"
	}
	return When(*w.NextRunAt) + " UTC"
}

// When formats a time.
func When(t time.Time) string { return lists.When(t) }

// Count formats a count.
func Count(n int64) string { return lists.Count(n) }

// FormVM is the New workflow and Rename forms.
type FormVM struct {
	Workflow *models.Workflow
	Input    models.WorkflowInput
	Errors   models.ValidationErrors
	CSRF     string
}

// Action is where the form posts.
func (vm FormVM) Action() string {
	if vm.Workflow == nil {
		return "/workflows"
	}
	return Href(vm.Workflow) + "/rename"
}

// PageVM is a workflow's page.
type PageVM struct {
	Workflow *models.Workflow
	// LastRun is the last run of any status; Done the last succeeded one,
	// whose counts label the transitions.
	LastRun    *models.Run
	Done       *models.Run
	DataSource *models.DataSource
	Runs       models.Page[*models.Run]
	// CanExport: the operator holds Audience library.
	CanExport bool
	CSRF      string
	Now       time.Time
	Errors    models.ValidationErrors
}

// Running reports whether the last run is queued or running.
func (vm PageVM) Running() bool { return vm.LastRun != nil && !vm.LastRun.Finished() }

// StatusURL is what the run panel polls.
func (vm PageVM) StatusURL() string {
	u := Href(vm.Workflow) + "/run-status"
	if vm.LastRun != nil {
		u += "?watch=" + strconv.FormatInt(vm.LastRun.ID, 10)
	}
	return u
}

// Edge labels a transition with the count of the last run.
func (vm PageVM) Edge(which string) string {
	if vm.Done == nil {
		return "not run yet"
	}
	switch which {
	case "targeted":
		return Count(vm.Done.Received)
	case "result":
		return Count(vm.Done.Exported)
	}
	return Count(vm.Done.Complement)
}

// TransitionHref is where a transition of the last run is downloaded or
// saved as a list.
func (vm PageVM) TransitionHref(which string) string {
	if vm.Done == nil {
		return ""
	}
	return Href(vm.Workflow) + "/runs/" + strconv.FormatInt(vm.Done.ID, 10) + "/transitions/" + which
}

// RunsURL pages the history.
func (vm PageVM) RunsURL() components.ListURL {
	return components.ListURL{Path: Href(vm.Workflow) + "/runs"}
}

// RunsPager pages the history.
func (vm PageVM) RunsPager() components.Pager {
	return components.PagerFor(vm.Runs, vm.RunsURL(), "#"+HistoryID)
}

// ScheduleKinds are the schedule choices.
var ScheduleKinds = []components.Option{{Value: "once", Label: "Once, when run"}, {Value: "daily", Label: "Daily at a time"}, {Value: "hours", Label: "Every N hours"}}

// Hours is the schedule's hours as text.
func (vm PageVM) Hours() string {
	if vm.Workflow.ScheduleHours == 0 {
		return "24"
	}
	return strconv.Itoa(vm.Workflow.ScheduleHours)
}

// QueryVM is the Query activity's dialog.
type QueryVM struct {
	Workflow *models.Workflow
	Label    string
	Rows     []CondRow
	Error    string
	CSRF     string
}

// CondRow is one condition in the editor.
type CondRow struct {
	Index int
	Cond  models.Condition
	Lists []*models.List
	// RedrawURL answers a change of the row's field or operator.
	RedrawURL string
}

// FieldOptions are the fields a condition can test.
func (r CondRow) FieldOptions() []components.Option {
	var out []components.Option
	for _, f := range models.ConditionFields {
		out = append(out, components.Option{Value: f, Label: models.FieldLabel(f)})
	}
	return out
}

// OpOptions are the operators of the row's field.
func (r CondRow) OpOptions() []components.Option {
	var out []components.Option
	for _, op := range models.OpsFor(r.Cond.Field) {
		out = append(out, components.Option{Value: op, Label: models.OpLabel(op)})
	}
	return out
}

// ValueKind is the input the row's value needs: text, date, list or none.
func (r CondRow) ValueKind() string {
	switch {
	case !models.NeedsValue(r.Cond.Op):
		return "none"
	case r.Cond.Field == "createdAt":
		return "date"
	case r.Cond.Field == "list":
		return "list"
	}
	return "text"
}

// ID is the row's element id.
func (r CondRow) ID() string { return "cond-" + strconv.Itoa(r.Index) }

// N is the row's number as people count.
func (r CondRow) N() string { return strconv.Itoa(r.Index + 1) }

// ListID is a list's id as the select's value.
func ListID(l *models.List) string { return strconv.FormatInt(l.ID, 10) }

// CountVM is the live count of the Query dialog.
type CountVM struct {
	Count   int64
	Preview []*models.Recipient
	Error   string
}

// ExportVM is the Update shared audience dialog.
type ExportVM struct {
	Workflow    *models.Workflow
	Input       models.ExportInput
	DataSources []*models.DataSource
	Errors      models.ValidationErrors
	CSRF        string
}

// SegmentSID is the chosen audience's id as text.
func (vm ExportVM) SegmentSID() string {
	if vm.Input.SegmentID <= 0 {
		return ""
	}
	return strconv.FormatInt(vm.Input.SegmentID, 10)
}

// Schema is derived from the data source's targeting dimension.
func (vm ExportVM) Schema() string {
	for _, d := range vm.DataSources {
		if d.InternalName == vm.Input.DataSource {
			return d.Schema()
		}
	}
	return "Recipient"
}

// ExportPreviewVM is the dialog's Preview.
type ExportPreviewVM struct {
	Result, Complement int64
	ComplementEnabled  bool
	Error              string
}

// RunStatusLabel and friends come from the lists' run views.
var (
	dataSourceAAM    = lists.DataSourceAAM
	dataSourceOption = lists.DataSourceOption
	RunStatusLabel   = lists.RunStatusLabel
	RunStatusClass   = lists.RunStatusClass
	RunDuration      = lists.RunDuration
	RunPercent       = lists.RunPercent
	RunID            = lists.RunID
)

// RunProgress describes a running export.
func RunProgress(r *models.Run) string {
	switch r.Status {
	case models.RunQueued:
		return "Waiting for a worker…"
	case models.RunRunning:
		return fmt.Sprintf("%s · %s recipients exported so far, %s in the complement", r.Phase, Count(r.Exported), Count(r.Complement))
	}
	return ""
}

// Conditions counts a query's conditions in words.
func Conditions(w *models.Workflow) string {
	switch n := len(w.Query()); n {
	case 0:
		return "no condition: every recipient"
	case 1:
		return "1 condition"
	default:
		return strconv.Itoa(n) + " conditions"
	}
}
