package handlers

import (
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"audiencebridge/models"
	"audiencebridge/views/components"
	"audiencebridge/views/layouts"
	"audiencebridge/views/pages/workflows"
)

var workflowsCrumbs = []layouts.Crumb{{Label: "Profiles and Targets"}, {Label: "Workflows", Href: "/workflows"}}

// WorkflowExporters is the entitlement configuring or running an "Update
// shared audience" activity needs.
var WorkflowExporters = []models.Entitlement{models.AudienceLibrary}

// ListWorkflows shows Profiles and Targets › Workflows.
func (h *Handlers) ListWorkflows(c echo.Context) error {
	ctx := c.Request().Context()
	page, err := h.Store.ListWorkflows(ctx, models.WorkflowQuery{Search: c.QueryParam("search"), PageRequest: pageRequest(c)})
	if err != nil {
		return err
	}
	var ids []int64
	for _, w := range page.Items {
		if w.LastRunID != nil {
			ids = append(ids, *w.LastRunID)
		}
	}
	runs, err := h.Store.RunsByIDs(ctx, ids)
	if err != nil {
		return err
	}
	vm := workflows.ListVM{URL: components.ListURL{Path: "/workflows", Query: queryOf(c, "search", "page")}, Page: page, Runs: runs}
	if wantsFragment(c, workflows.ResultsID) {
		return render(c, http.StatusOK, workflows.Results(vm))
	}
	f := h.Frame(c, "Workflows", "workflows", workflowsCrumbs...)
	f.Subtitle = "Targeting workflows: a query, then an Update shared audience activity that sends the targeted recipients to the audience library."
	f.NewMenu = []layouts.MenuItem{{Label: "New workflow…", Href: "/workflows/new", TestID: "new-workflow"}}
	return render(c, http.StatusOK, workflows.List(f, vm))
}

func (h *Handlers) workflowForm(c echo.Context, status int, vm workflows.FormVM) error {
	vm.CSRF = h.Sessions.CSRFToken(c)
	title := "New workflow"
	if vm.Workflow != nil {
		title = "Rename " + vm.Workflow.Label
	}
	f := h.Frame(c, title, "workflows", crumbs(workflowsCrumbs, layouts.Crumb{Label: title})...)
	return render(c, status, workflows.Form(f, vm))
}

// NewWorkflow shows the New workflow form.
func (h *Handlers) NewWorkflow(c echo.Context) error {
	return h.workflowForm(c, http.StatusOK, workflows.FormVM{})
}

func workflowInput(c echo.Context) models.WorkflowInput {
	return models.WorkflowInput{Label: c.FormValue("label"), InternalName: c.FormValue("internalName"), Description: c.FormValue("description")}
}

// CreateWorkflow stores a new, empty workflow and opens its diagram.
func (h *Handlers) CreateWorkflow(c echo.Context) error {
	in := workflowInput(c)
	w, err := h.Store.CreateWorkflow(c.Request().Context(), models.ActorOf(Me(c)), in)
	if problems, ok := formProblems(err); ok {
		return h.workflowForm(c, statusOfProblem(err), workflows.FormVM{Input: in, Errors: problems})
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", fmt.Sprintf("Workflow %s (%s) created: drop a Query on the diagram to start.", w.Label, w.InternalName))
	return redirect(c, workflows.Href(w))
}

func (h *Handlers) loadWorkflow(c echo.Context) (*models.Workflow, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return nil, err
	}
	return h.Store.WorkflowByID(c.Request().Context(), id)
}

// workflowVM gathers a workflow's page.
func (h *Handlers) workflowVM(c echo.Context, w *models.Workflow) (workflows.PageVM, error) {
	ctx := c.Request().Context()
	vm := workflows.PageVM{Workflow: w, CanExport: Me(c).Has(models.AudienceLibrary), CSRF: h.Sessions.CSRFToken(c), Now: h.Store.Now()}
	if w.LastRunID != nil {
		r, err := h.Store.RunByID(ctx, *w.LastRunID)
		if err != nil && !errors.Is(err, models.ErrNotFound) {
			return vm, err
		}
		vm.LastRun = r
	}
	done, err := h.Store.LastSucceededRuns(ctx, []int64{w.ID})
	if err != nil {
		return vm, err
	}
	vm.Done = done[w.ID]
	if w.DataSourceID != nil {
		if vm.DataSource, err = h.Store.DataSourceByID(ctx, *w.DataSourceID); err != nil && !errors.Is(err, models.ErrNotFound) {
			return vm, err
		}
	}
	req := pageRequest(c)
	if c.Path() != "/workflows/:id/runs" {
		req.Page = 0
	}
	req.PageSize = 10
	vm.Runs, err = h.Store.ListRuns(ctx, models.RunQuery{WorkflowID: w.ID, PageRequest: req})
	return vm, err
}

// ShowWorkflow shows a workflow's diagram, palette, run and history.
func (h *Handlers) ShowWorkflow(c echo.Context) error {
	w, err := h.loadWorkflow(c)
	if err != nil {
		return err
	}
	vm, err := h.workflowVM(c, w)
	if err != nil {
		return err
	}
	f := h.Frame(c, w.Label, "workflows", crumbs(workflowsCrumbs, layouts.Crumb{Label: w.Label})...)
	f.Subtitle = w.InternalName + " · targeting workflow"
	return render(c, http.StatusOK, workflows.Page(f, vm))
}

// WorkflowCanvas redraws the diagram.
func (h *Handlers) WorkflowCanvas(c echo.Context) error {
	w, err := h.loadWorkflow(c)
	if err != nil {
		return err
	}
	vm, err := h.workflowVM(c, w)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, joinComponents(workflows.Canvas(vm), workflows.Props(vm, true)))
}

// RenameWorkflowForm shows the rename form.
func (h *Handlers) RenameWorkflowForm(c echo.Context) error {
	w, err := h.loadWorkflow(c)
	if err != nil {
		return err
	}
	return h.workflowForm(c, http.StatusOK, workflows.FormVM{Workflow: w, Input: models.WorkflowInput{Label: w.Label, InternalName: w.InternalName, Description: w.Description}})
}

// RenameWorkflow saves a new label, internal name and description.
func (h *Handlers) RenameWorkflow(c echo.Context) error {
	w, err := h.loadWorkflow(c)
	if err != nil {
		return err
	}
	in := workflowInput(c)
	renamed, err := h.Store.RenameWorkflow(c.Request().Context(), models.ActorOf(Me(c)), w.ID, in)
	if problems, ok := formProblems(err); ok {
		return h.workflowForm(c, statusOfProblem(err), workflows.FormVM{Workflow: w, Input: in, Errors: problems})
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", fmt.Sprintf("Workflow renamed %s (%s).", renamed.Label, renamed.InternalName))
	return redirect(c, workflows.Href(renamed))
}

// DuplicateWorkflow copies a workflow.
func (h *Handlers) DuplicateWorkflow(c echo.Context) error {
	w, err := h.loadWorkflow(c)
	if err != nil {
		return err
	}
	copied, err := h.Store.DuplicateWorkflow(c.Request().Context(), models.ActorOf(Me(c)), w.ID)
	if err != nil {
		return err
	}
	h.flash(c, "success", fmt.Sprintf("%s duplicated as %s (%s).", w.InternalName, copied.Label, copied.InternalName))
	return redirect(c, workflows.Href(copied))
}

// DeleteWorkflow deletes a workflow; its audience stays in the library.
func (h *Handlers) DeleteWorkflow(c echo.Context) error {
	w, err := h.loadWorkflow(c)
	if err != nil {
		return err
	}
	if err := h.Store.DeleteWorkflow(c.Request().Context(), models.ActorOf(Me(c)), w.ID); err != nil {
		return err
	}
	h.flash(c, "success", fmt.Sprintf("Workflow %s (%s) deleted.", w.Label, w.InternalName))
	return redirect(c, "/workflows")
}

// AddWorkflowActivity puts a palette item on the diagram and redraws it.
func (h *Handlers) AddWorkflowActivity(c echo.Context) error {
	w, err := h.loadWorkflow(c)
	if err != nil {
		return err
	}
	activity := c.FormValue("activity")
	if activity == "export" {
		if err := Me(c).Require("add an Update shared audience activity", WorkflowExporters...); err != nil {
			return err
		}
	}
	if w, err = h.Store.AddActivity(c.Request().Context(), models.ActorOf(Me(c)), w.ID, activity); err != nil {
		return err
	}
	vm, err := h.workflowVM(c, w)
	if err != nil {
		return err
	}
	if !isHTMX(c) {
		return redirect(c, workflows.Href(w))
	}
	c.Response().Header().Set("HX-Trigger", workflows.Changed)
	return render(c, http.StatusOK, workflows.Canvas(vm))
}

// RemoveWorkflowActivity takes an activity off the diagram.
func (h *Handlers) RemoveWorkflowActivity(c echo.Context) error {
	w, err := h.loadWorkflow(c)
	if err != nil {
		return err
	}
	if _, err := h.Store.RemoveActivity(c.Request().Context(), models.ActorOf(Me(c)), w.ID, c.Param("activity")); err != nil {
		return err
	}
	return h.dialogSaved(c, w)
}

// dialogSaved answers a saved dialog: HTMX closes it and redraws the page's
// parts; a plain form goes back to the diagram.
func (h *Handlers) dialogSaved(c echo.Context, w *models.Workflow) error {
	if isHTMX(c) {
		c.Response().Header().Set("HX-Trigger", workflows.Saved)
		return c.NoContent(http.StatusOK)
	}
	return redirect(c, workflows.Href(w))
}

// pickerLists are the lists a condition can name.
func (h *Handlers) pickerLists(c echo.Context) ([]*models.List, error) {
	page, err := h.Store.ListLists(c.Request().Context(), models.ListQuery{Sort: "label", PageRequest: models.PageRequest{PageSize: models.MaxPageSize}})
	return page.Items, err
}

func (h *Handlers) condRows(c echo.Context, w *models.Workflow, conds models.Conditions) ([]workflows.CondRow, error) {
	ls, err := h.pickerLists(c)
	if err != nil {
		return nil, err
	}
	rows := make([]workflows.CondRow, len(conds))
	for i, cond := range conds {
		rows[i] = workflows.CondRow{Index: i, Cond: cond, Lists: ls, RedrawURL: workflows.Href(w) + "/activities/query/row?redraw=1"}
	}
	return rows, nil
}

// formConditions reads the condition rows of the Query dialog.
func formConditions(c echo.Context) (models.Conditions, error) {
	form, err := c.FormParams()
	if err != nil {
		return nil, echo.NewHTTPError(http.StatusBadRequest, "the form could not be read")
	}
	fields, ops, values := form["cond_field"], form["cond_op"], form["cond_value"]
	if len(fields) > models.MaxConditions {
		return nil, models.Invalid("conditions", "use at most %d conditions", models.MaxConditions)
	}
	conds := make(models.Conditions, len(fields))
	for i := range fields {
		conds[i].Field = fields[i]
		if i < len(ops) {
			conds[i].Op = ops[i]
		}
		if i < len(values) {
			conds[i].Value = values[i]
		}
	}
	return conds, nil
}

// ShowQueryDialog opens the Query activity.
func (h *Handlers) ShowQueryDialog(c echo.Context) error {
	w, err := h.loadWorkflow(c)
	if err != nil {
		return err
	}
	rows, err := h.condRows(c, w, w.Query())
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, workflows.QueryDialog(workflows.QueryVM{Workflow: w, Label: w.QueryLabel, Rows: rows, CSRF: h.Sessions.CSRFToken(c)}))
}

// SaveQuery saves the Query activity, or shows the dialog again with the
// problem.
func (h *Handlers) SaveQuery(c echo.Context) error {
	w, err := h.loadWorkflow(c)
	if err != nil {
		return err
	}
	conds, err := formConditions(c)
	if err == nil {
		_, err = h.Store.SetQuery(c.Request().Context(), models.ActorOf(Me(c)), w.ID, models.QueryInput{Label: c.FormValue("queryLabel"), Conditions: conds})
	}
	if problems, ok := formProblems(err); ok {
		rows, rerr := h.condRows(c, w, conds)
		if rerr != nil {
			return rerr
		}
		return render(c, http.StatusOK, workflows.QueryDialog(workflows.QueryVM{Workflow: w, Label: c.FormValue("queryLabel"), Rows: rows,
			Error: capitalize(problems[0].Message) + ".", CSRF: h.Sessions.CSRFToken(c)}))
	}
	if err != nil {
		return err
	}
	return h.dialogSaved(c, w)
}

// QueryRow answers "Add a condition" with a new row, and a change of a
// row's field or operator with the row redrawn for it.
func (h *Handlers) QueryRow(c echo.Context) error {
	w, err := h.loadWorkflow(c)
	if err != nil {
		return err
	}
	conds, err := formConditions(c)
	if err != nil {
		return err
	}
	ls, err := h.pickerLists(c)
	if err != nil {
		return err
	}
	row := workflows.CondRow{Lists: ls, RedrawURL: workflows.Href(w) + "/activities/query/row?redraw=1"}
	if c.QueryParam("redraw") == "1" && len(conds) == 1 {
		n, _ := strconv.Atoi(c.FormValue("row"))
		row.Index, row.Cond = max(n-1, 0), conds[0]
		if models.OpsFor(row.Cond.Field) == nil {
			row.Cond.Field = "email"
		}
		if ops := models.OpsFor(row.Cond.Field); !slices.Contains(ops, row.Cond.Op) {
			row.Cond.Op, row.Cond.Value = ops[0], ""
		}
	} else {
		if len(conds) >= models.MaxConditions {
			return models.Invalid("conditions", "a query has at most %d conditions", models.MaxConditions)
		}
		row.Index, row.Cond = len(conds), models.Condition{Field: "email", Op: "contains"}
	}
	return render(c, http.StatusOK, workflows.ConditionRow(row))
}

// QueryCount is the dialog's live count and first rows.
func (h *Handlers) QueryCount(c echo.Context) error {
	conds, err := formConditions(c)
	vm := workflows.CountVM{}
	if err == nil {
		vm.Count, err = h.Store.CountTargets(c.Request().Context(), conds)
	}
	if err == nil {
		vm.Preview, err = h.Store.PreviewTargets(c.Request().Context(), conds, 5)
	}
	if problems, ok := formProblems(err); ok {
		vm.Error = capitalize(problems[0].Message) + "."
	} else if err != nil {
		return err
	}
	return render(c, http.StatusOK, workflows.QueryCount(vm))
}

func (h *Handlers) exportDialog(c echo.Context, vm workflows.ExportVM) error {
	ds, err := h.Store.ListDataSources(c.Request().Context(), models.DataSourceQuery{PageRequest: models.PageRequest{PageSize: models.MaxPageSize}})
	if err != nil {
		return err
	}
	vm.DataSources, vm.CSRF = ds.Items, h.Sessions.CSRFToken(c)
	return render(c, http.StatusOK, workflows.ExportDialog(vm))
}

// ShowExportDialog opens the Update shared audience activity.
func (h *Handlers) ShowExportDialog(c echo.Context) error {
	w, err := h.loadWorkflow(c)
	if err != nil {
		return err
	}
	in := models.ExportInput{Label: w.ExportLabel, SegmentName: w.SegmentName, NewSegmentName: w.NewSegmentName, ResultLabel: w.ResultLabel,
		ComplementEnabled: w.ComplementEnabled, ComplementLabel: w.ComplementLabel}
	if w.SegmentID != nil {
		in.SegmentID = *w.SegmentID
	}
	if w.DataSourceID != nil {
		if ds, err := h.Store.DataSourceByID(c.Request().Context(), *w.DataSourceID); err == nil {
			in.DataSource = ds.InternalName
		}
	}
	return h.exportDialog(c, workflows.ExportVM{Workflow: w, Input: in})
}

func exportInput(c echo.Context) (models.ExportInput, models.ValidationErrors) {
	in := models.ExportInput{Label: c.FormValue("label"), SegmentName: c.FormValue("audienceName"), NewSegmentName: c.FormValue("newSegmentName"),
		DataSource: strings.TrimSpace(c.FormValue("dataSource")), ResultLabel: c.FormValue("resultLabel"),
		ComplementEnabled: c.FormValue("complementEnabled") != "", ComplementLabel: c.FormValue("complementLabel")}
	var v models.ValidationErrors
	if sid := strings.TrimSpace(c.FormValue("audienceSid")); sid != "" {
		n, err := strconv.ParseInt(sid, 10, 64)
		if err != nil || n <= 0 {
			v.Add("sharedAudienceId", "%q is not an audience identifier: select the audience in the picker", sid)
		}
		in.SegmentID = n
	}
	return in, v
}

// SaveExport saves the Update shared audience activity.
func (h *Handlers) SaveExport(c echo.Context) error {
	w, err := h.loadWorkflow(c)
	if err != nil {
		return err
	}
	in, v := exportInput(c)
	if len(v) == 0 {
		_, err = h.Sync.SetExport(c.Request().Context(), models.ActorOf(Me(c)), w.ID, in)
	} else {
		err = v
	}
	if problems, ok := formProblems(err); ok {
		return h.exportDialog(c, workflows.ExportVM{Workflow: w, Input: in, Errors: problems})
	}
	if err != nil {
		return err
	}
	return h.dialogSaved(c, w)
}

// PreviewExport counts what a run would send to Result and Complement.
func (h *Handlers) PreviewExport(c echo.Context) error {
	w, err := h.loadWorkflow(c)
	if err != nil {
		return err
	}
	vm := workflows.ExportPreviewVM{ComplementEnabled: c.FormValue("complementEnabled") != ""}
	ds := strings.TrimSpace(c.FormValue("dataSource"))
	switch {
	case !w.HasQuery:
		vm.Error = "Add a Query first: it says which recipients are targeted."
	case ds == "":
		vm.Error = "Choose the AMC data source first."
	default:
		vm.Result, vm.Complement, err = h.Sync.ExportPreview(c.Request().Context(), w.Query(), ds)
		if problems, ok := formProblems(err); ok {
			vm.Error = capitalize(problems[0].Message) + "."
		} else if err != nil {
			return err
		}
	}
	return render(c, http.StatusOK, workflows.ExportPreview(vm))
}

// RunWorkflowNow is the Run button.
func (h *Handlers) RunWorkflowNow(c echo.Context) error {
	w, err := h.loadWorkflow(c)
	if err != nil {
		return err
	}
	run, err := h.Sync.RunWorkflow(c.Request().Context(), w.ID, models.TriggerManual, models.ActorOf(Me(c)))
	if err != nil {
		return err
	}
	return h.answerRun(c, w, fmt.Sprintf("Run #%d is queued.", run.ID))
}

func (h *Handlers) answerRun(c echo.Context, w *models.Workflow, msg string) error {
	if !isHTMX(c) {
		h.flash(c, "success", msg)
		return redirect(c, workflows.Href(w))
	}
	fresh, err := h.Store.WorkflowByID(c.Request().Context(), w.ID)
	if err != nil {
		return err
	}
	vm, err := h.workflowVM(c, fresh)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, workflows.RunPanel(vm))
}

// WorkflowRunStatus is the polled run panel; when the watched run has ended
// the page redraws its diagram and history.
func (h *Handlers) WorkflowRunStatus(c echo.Context) error {
	w, err := h.loadWorkflow(c)
	if err != nil {
		return err
	}
	vm, err := h.workflowVM(c, w)
	if err != nil {
		return err
	}
	if watch, _ := strconv.ParseInt(c.QueryParam("watch"), 10, 64); watch > 0 {
		if r, err := h.Store.RunByID(c.Request().Context(), watch); err == nil && r.Finished() {
			c.Response().Header().Set("HX-Trigger", workflows.Saved)
		}
	}
	return render(c, http.StatusOK, workflows.RunPanel(vm))
}

// WorkflowRunHistory is the history, a fragment for HTMX paging.
func (h *Handlers) WorkflowRunHistory(c echo.Context) error {
	w, err := h.loadWorkflow(c)
	if err != nil {
		return err
	}
	if !isHTMX(c) {
		return redirect(c, workflows.Href(w)+"#history-title")
	}
	vm, err := h.workflowVM(c, w)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, workflows.History(vm))
}

func (h *Handlers) workflowRun(c echo.Context, w *models.Workflow) (*models.Run, error) {
	id, err := pathID(c, "run")
	if err != nil {
		return nil, err
	}
	r, err := h.Store.RunByID(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	if r.WorkflowID == nil || *r.WorkflowID != w.ID {
		return nil, fmt.Errorf("run #%d of %s: %w", id, w.InternalName, models.ErrNotFound)
	}
	return r, nil
}

// RetryWorkflowRun retries a failed run.
func (h *Handlers) RetryWorkflowRun(c echo.Context) error {
	w, err := h.loadWorkflow(c)
	if err != nil {
		return err
	}
	r, err := h.workflowRun(c, w)
	if err != nil {
		return err
	}
	run, err := h.Sync.Retry(c.Request().Context(), r.ID, models.ActorOf(Me(c)))
	if err != nil {
		return err
	}
	return h.answerRun(c, w, fmt.Sprintf("Retrying run #%d as run #%d.", r.ID, run.ID))
}

// SetWorkflowSchedule saves when the workflow runs.
func (h *Handlers) SetWorkflowSchedule(c echo.Context) error {
	w, err := h.loadWorkflow(c)
	if err != nil {
		return err
	}
	hours, _ := strconv.Atoi(strings.TrimSpace(c.FormValue("scheduleHours")))
	sc := models.WorkflowSchedule{Kind: c.FormValue("scheduleKind"), Time: c.FormValue("scheduleTime"), Hours: hours}
	saved, err := h.Store.SetWorkflowSchedule(c.Request().Context(), models.ActorOf(Me(c)), w.ID, sc)
	if problems, ok := formProblems(err); ok {
		vm, verr := h.workflowVM(c, w)
		if verr != nil {
			return verr
		}
		vm.Errors = problems
		f := h.Frame(c, w.Label, "workflows", crumbs(workflowsCrumbs, layouts.Crumb{Label: w.Label})...)
		return render(c, http.StatusUnprocessableEntity, workflows.Page(f, vm))
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", fmt.Sprintf("%s: %s; next run %s.", saved.Label, workflows.ScheduleLabel(saved), workflows.NextRun(saved)))
	return redirect(c, workflows.Href(saved))
}

// transition reads the :which of a transition path: result or complement,
// and whether a CSV is asked for.
func transition(c echo.Context) (result, csvFile bool, err error) {
	which := c.Param("which")
	csvFile = strings.HasSuffix(which, ".csv")
	switch strings.TrimSuffix(which, ".csv") {
	case "result":
		return true, csvFile, nil
	case "complement":
		return false, csvFile, nil
	}
	return false, false, fmt.Errorf("transition %q: %w", which, models.ErrNotFound)
}

// DownloadTransition sends a transition's recipients as CSV.
func (h *Handlers) DownloadTransition(c echo.Context) error {
	w, err := h.loadWorkflow(c)
	if err != nil {
		return err
	}
	r, err := h.workflowRun(c, w)
	if err != nil {
		return err
	}
	result, isCSV, err := transition(c)
	if err != nil {
		return err
	}
	if !isCSV {
		return redirect(c, c.Request().URL.Path+"/list")
	}
	name := "complement"
	if result {
		name = "result"
	}
	resp := c.Response()
	resp.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	resp.Header().Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s-run-%d-%s.csv"`, w.InternalName, r.ID, name))
	resp.WriteHeader(http.StatusOK)
	out := csv.NewWriter(resp)
	if err := out.Write([]string{"id", "email", "firstName", "lastName", "crmId"}); err != nil {
		return err
	}
	after := int64(0)
	for {
		batch, err := h.Store.TransitionRecipients(c.Request().Context(), r.ID, result, after, 5000)
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			break
		}
		for _, rec := range batch {
			if err := out.Write(neutralize([]string{strconv.FormatInt(rec.ID, 10), rec.Email, rec.FirstName, rec.LastName, rec.CRM()})); err != nil {
				return err
			}
		}
		after = batch[len(batch)-1].ID
		out.Flush()
	}
	out.Flush()
	return out.Error()
}

// SaveTransitionForm asks the label of the list a transition is saved as.
func (h *Handlers) SaveTransitionForm(c echo.Context) error {
	w, err := h.loadWorkflow(c)
	if err != nil {
		return err
	}
	r, err := h.workflowRun(c, w)
	if err != nil {
		return err
	}
	result, _, err := transition(c)
	if err != nil {
		return err
	}
	label := w.ComplementLabel
	if result {
		label = w.ResultLabel
	}
	f := h.Frame(c, "Save as a list", "workflows", crumbs(workflowsCrumbs, layouts.Crumb{Label: w.Label, Href: workflows.Href(w)}, layouts.Crumb{Label: "Save as a list"})...)
	f.Subtitle = fmt.Sprintf("The %s transition of run #%d.", label, r.ID)
	return render(c, http.StatusOK, workflows.SaveListPage(f, c.Request().URL.Path, label, "", h.Sessions.CSRFToken(c)))
}

// SaveTransition stores a transition's recipients as a regular list.
func (h *Handlers) SaveTransition(c echo.Context) error {
	w, err := h.loadWorkflow(c)
	if err != nil {
		return err
	}
	r, err := h.workflowRun(c, w)
	if err != nil {
		return err
	}
	result, _, err := transition(c)
	if err != nil {
		return err
	}
	label := c.FormValue("label")
	l, err := h.Store.SaveTransitionAsList(c.Request().Context(), models.ActorOf(Me(c)), r.ID, result, models.ListInput{Label: label,
		Description: fmt.Sprintf("Saved from run #%d of the workflow %s.", r.ID, w.InternalName)})
	if problems, ok := formProblems(err); ok {
		f := h.Frame(c, "Save as a list", "workflows", crumbs(workflowsCrumbs, layouts.Crumb{Label: w.Label, Href: workflows.Href(w)}, layouts.Crumb{Label: "Save as a list"})...)
		return render(c, statusOfProblem(err), workflows.SaveListPage(f, c.Request().URL.Path, label, problems[0].Message, h.Sessions.CSRFToken(c)))
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", fmt.Sprintf("List %s (%s) created with %d recipients.", l.Label, l.InternalName, l.Size))
	return redirect(c, "/lists/"+strconv.FormatInt(l.ID, 10))
}
