package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"audiencebridge/models"
)

// workflowQueryJSON is a workflow's Query activity.
type workflowQueryJSON struct {
	Conditions models.Conditions `json:"conditions"`
}

// workflowScheduleJSON is when a workflow runs.
type workflowScheduleJSON struct {
	Kind      string     `json:"kind"`
	Time      string     `json:"time"`
	Hours     int        `json:"hours"`
	NextRunAt *time.Time `json:"nextRunAt"`
}

// transitionsJSON counts the recipients of the two outbound transitions of
// the "Update shared audience" activity in the workflow's last succeeded
// run.
type transitionsJSON struct {
	Result     int64 `json:"result"`
	Complement int64 `json:"complement"`
}

// workflowJSON is a targeting workflow in the Campaign API: the fields of
// SPEC.md, then exportLabel, createdAt and updatedAt. sharedAudience is null
// until the audience exists, newSegmentName null once it does; dataSource
// and lastRun are null until set.
type workflowJSON struct {
	ID                int64                `json:"id"`
	Label             string               `json:"label"`
	InternalName      string               `json:"internalName"`
	Description       string               `json:"description"`
	Query             workflowQueryJSON    `json:"query"`
	SharedAudience    *sharedAudienceJSON  `json:"sharedAudience"`
	NewSegmentName    *string              `json:"newSegmentName"`
	DataSource        *string              `json:"dataSource"`
	ComplementEnabled bool                 `json:"complementEnabled"`
	ResultLabel       string               `json:"resultLabel"`
	ComplementLabel   string               `json:"complementLabel"`
	Schedule          workflowScheduleJSON `json:"schedule"`
	Transitions       transitionsJSON      `json:"transitions"`
	LastRun           *runJSON             `json:"lastRun"`

	ExportLabel string    `json:"exportLabel"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// apiWorkflowOut builds a workflow's JSON. names caches data source names
// over a page and runs holds the page's last runs (nil: load the one). A
// data source or run that no longer exists is shown as null.
// done, when not nil, holds the page's last succeeded runs by workflow.
func (h *Handlers) apiWorkflowOut(ctx context.Context, w *models.Workflow, names map[int64]string, runs, done map[int64]*models.Run) (workflowJSON, error) {
	conds := w.Query()
	if conds == nil {
		conds = models.Conditions{}
	}
	out := workflowJSON{ID: w.ID, Label: w.Label, InternalName: w.InternalName, Description: w.Description,
		Query: workflowQueryJSON{Conditions: conds}, ComplementEnabled: w.ComplementEnabled, ResultLabel: w.ResultLabel,
		ComplementLabel: w.ComplementLabel, ExportLabel: w.ExportLabel, CreatedAt: w.CreatedAt.UTC(), UpdatedAt: w.UpdatedAt.UTC(),
		Schedule: workflowScheduleJSON{Kind: w.ScheduleKind, Time: w.ScheduleTime, Hours: w.ScheduleHours, NextRunAt: utcOrNil(w.NextRunAt)}}
	if w.SegmentID != nil {
		out.SharedAudience = &sharedAudienceJSON{SID: *w.SegmentID, Name: w.SegmentName}
	} else if w.NewSegmentName != "" {
		name := w.NewSegmentName
		out.NewSegmentName = &name
	}
	if w.DataSourceID != nil {
		name, ok := names[*w.DataSourceID]
		if !ok {
			ds, err := h.Store.DataSourceByID(ctx, *w.DataSourceID)
			switch {
			case err == nil:
				name = ds.InternalName
			case !errors.Is(err, models.ErrNotFound):
				return out, err
			}
			names[*w.DataSourceID] = name
		}
		if name != "" {
			out.DataSource = &name
		}
	}
	var last *models.Run
	if w.LastRunID != nil && runs != nil {
		last = runs[*w.LastRunID]
	} else if w.LastRunID != nil {
		r, err := h.Store.RunByID(ctx, *w.LastRunID)
		switch {
		case err == nil:
			last = r
		case !errors.Is(err, models.ErrNotFound):
			return out, err
		}
	}
	if last != nil {
		run := runOut(last)
		out.LastRun = &run
	}
	// The transitions are those of the last run that went through.
	if done == nil {
		var err error
		if done, err = h.Store.LastSucceededRuns(ctx, []int64{w.ID}); err != nil {
			return out, err
		}
	}
	succeeded := done[w.ID]
	if succeeded != nil {
		out.Transitions = transitionsJSON{Result: succeeded.Exported, Complement: succeeded.Complement}
	}
	return out, nil
}

// APIListWorkflows answers GET /api/v1/workflows?search=&page=&pageSize=,
// most recently modified first.
func (h *Handlers) APIListWorkflows(c echo.Context) error {
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
	wids := make([]int64, len(page.Items))
	for i, w := range page.Items {
		wids[i] = w.ID
	}
	done, err := h.Store.LastSucceededRuns(ctx, wids)
	if err != nil {
		return err
	}
	out := pagedJSON[workflowJSON]{Total: page.Total, Page: page.Page, PageSize: page.PageSize, List: make([]workflowJSON, len(page.Items))}
	names := map[int64]string{}
	for i, w := range page.Items {
		if out.List[i], err = h.apiWorkflowOut(ctx, w, names, runs, done); err != nil {
			return err
		}
	}
	return c.JSON(http.StatusOK, out)
}

// APIShowWorkflow answers GET /api/v1/workflows/{id}.
func (h *Handlers) APIShowWorkflow(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	w, err := h.Store.WorkflowByID(ctx, id)
	if err != nil {
		return err
	}
	out, err := h.apiWorkflowOut(ctx, w, map[int64]string{}, nil, nil)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// apiWorkflowRequest is the body of POST /api/v1/workflows.
type apiWorkflowRequest struct {
	Label                string             `json:"label"`
	InternalName         string             `json:"internalName"`
	Description          string             `json:"description"`
	Query                *workflowQueryJSON `json:"query"`
	UpdateSharedAudience *struct {
		SharedAudienceID int64  `json:"sharedAudienceId"`
		NewSegmentName   string `json:"newSegmentName"`
	} `json:"updateSharedAudience"`
	DataSource        string `json:"dataSource"`
	ComplementEnabled bool   `json:"complementEnabled"`
	ExportLabel       string `json:"exportLabel"`
	ResultLabel       string `json:"resultLabel"`
	ComplementLabel   string `json:"complementLabel"`
	Schedule          *struct {
		Kind  string `json:"kind"`
		Time  string `json:"time"`
		Hours int    `json:"hours"`
	} `json:"schedule"`
}

// check refuses what can be refused before anything is stored: the shape
// of the body, the conditions and the data source.
func (r *apiWorkflowRequest) check(ctx context.Context, store *models.Store) error {
	if r.Query == nil {
		return models.Invalid("query", `send the Query activity as {"conditions":[{"field","op","value"}, ...]} ({"conditions":[]} targets every recipient)`)
	}
	if err := store.ValidateConditions(ctx, r.Query.Conditions); err != nil {
		return err
	}
	u := r.UpdateSharedAudience
	switch {
	case u == nil || (u.SharedAudienceID == 0 && strings.TrimSpace(u.NewSegmentName) == ""):
		return models.Invalid("updateSharedAudience", `send {"sharedAudienceId":<sid>} to update an existing audience, or {"newSegmentName":"..."} to create one`)
	case u.SharedAudienceID < 0:
		return models.Invalid("sharedAudienceId", "must be the positive sid of an audience of the library")
	case u.SharedAudienceID > 0 && strings.TrimSpace(u.NewSegmentName) != "":
		return models.Invalid("updateSharedAudience", "send either sharedAudienceId or newSegmentName, not both")
	}
	r.DataSource = strings.TrimSpace(r.DataSource)
	if r.DataSource == "" {
		return models.Invalid("dataSource", "name the AMC data source by its internal name, such as %s", models.DefaultDataSourceName)
	}
	_, err := store.DataSourceByInternalName(ctx, r.DataSource)
	if errors.Is(err, models.ErrNotFound) {
		return models.Invalid("dataSource", "no AMC data source is named %q: use the internal name of one of GET /api/v1/datasources", r.DataSource)
	}
	return err
}

// The models name some fields as the console's dialogs do; the API names
// them as its body does.
var (
	apiExportFields   = map[string]string{"label": "exportLabel"}
	apiScheduleFields = map[string]string{"scheduleKind": "schedule.kind", "scheduleTime": "schedule.time", "scheduleHours": "schedule.hours"}
)

// apiFields renames the fields of a validation error; other errors are
// returned as they are.
func apiFields(err error, names map[string]string) error {
	rename := func(e *models.ValidationError) *models.ValidationError {
		if n, ok := names[e.Field]; ok {
			return &models.ValidationError{Field: n, Message: e.Message}
		}
		return e
	}
	var many models.ValidationErrors
	if errors.As(err, &many) {
		out := make(models.ValidationErrors, len(many))
		for i, e := range many {
			out[i] = rename(e)
		}
		return out
	}
	var one *models.ValidationError
	if errors.As(err, &one) {
		return rename(one)
	}
	return err
}

// APICreateWorkflow answers POST /api/v1/workflows with 201 and the
// workflow: its Query, its "Update shared audience" activity and its
// schedule, all saved or none. What needs the workflow to be checked (the
// audience in the library, the schedule) is checked once it is stored, and
// a refusal deletes it again.
func (h *Handlers) APICreateWorkflow(c echo.Context) error {
	var body apiWorkflowRequest
	if done, err := decodeJSON(c, &body); done {
		return err
	}
	ctx := c.Request().Context()
	if err := body.check(ctx, h.Store); err != nil {
		return err
	}
	actor := models.ActorOf(Me(c))
	created, err := h.Store.CreateWorkflow(ctx, actor, models.WorkflowInput{Label: body.Label, InternalName: body.InternalName, Description: body.Description})
	if err != nil {
		return err
	}
	w, err := h.completeWorkflow(ctx, actor, created.ID, &body)
	if err != nil {
		// The client may be gone; the half-made workflow must go all the same.
		if derr := h.Store.DeleteWorkflow(context.WithoutCancel(ctx), actor, created.ID); derr != nil {
			return fmt.Errorf("remove workflow #%d after its creation was refused (%v): %w", created.ID, err, derr)
		}
		return err
	}
	out, err := h.apiWorkflowOut(ctx, w, map[int64]string{}, nil, nil)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/workflows/"+strconv.FormatInt(w.ID, 10))
	return c.JSON(http.StatusCreated, out)
}

// completeWorkflow adds a new workflow's activities and schedule.
func (h *Handlers) completeWorkflow(ctx context.Context, actor models.Actor, id int64, body *apiWorkflowRequest) (*models.Workflow, error) {
	if _, err := h.Store.SetQuery(ctx, actor, id, models.QueryInput{Conditions: body.Query.Conditions}); err != nil {
		return nil, err
	}
	u := body.UpdateSharedAudience
	w, err := h.Sync.SetExport(ctx, actor, id, models.ExportInput{Label: body.ExportLabel, SegmentID: u.SharedAudienceID, NewSegmentName: u.NewSegmentName,
		DataSource: body.DataSource, ResultLabel: body.ResultLabel, ComplementEnabled: body.ComplementEnabled, ComplementLabel: body.ComplementLabel})
	if err != nil {
		return nil, apiFields(err, apiExportFields)
	}
	if sc := body.Schedule; sc != nil {
		if w, err = h.Store.SetWorkflowSchedule(ctx, actor, id, models.WorkflowSchedule{Kind: sc.Kind, Time: sc.Time, Hours: sc.Hours}); err != nil {
			return nil, apiFields(err, apiScheduleFields)
		}
	}
	return w, nil
}

// APIRunWorkflow answers POST /api/v1/workflows/{id}/run with 202 and the
// export run queued; when one is already waiting, that one. A workflow that
// is not ready to run is a 409 that says what it lacks.
func (h *Handlers) APIRunWorkflow(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	run, err := h.Sync.RunWorkflow(c.Request().Context(), id, models.TriggerAPI, models.ActorOf(Me(c)))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]int64{"runId": run.ID})
}
