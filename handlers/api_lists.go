package handlers

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"audiencebridge/models"
)

// sharedAudienceJSON names the audience a shared-audience list follows.
type sharedAudienceJSON struct {
	SID  int64  `json:"sid"`
	Name string `json:"name"`
}

// listJSON is a list in the Campaign API. The fields of a shared-audience
// list are null for a regular one, and lastRun is null until a first run.
type listJSON struct {
	ID               int64               `json:"id"`
	Label            string              `json:"label"`
	InternalName     string              `json:"internalName"`
	Type             models.ListType     `json:"type"`
	Description      string              `json:"description"`
	Size             int64               `json:"size"`
	SharedAudience   *sharedAudienceJSON `json:"sharedAudience"`
	DataSource       *string             `json:"dataSource"`
	LastRun          *runJSON            `json:"lastRun"`
	SyncEveryMinutes *int                `json:"syncEveryMinutes"`
	NextSyncAt       *time.Time          `json:"nextSyncAt"`
	CreatedAt        time.Time           `json:"createdAt"`
	UpdatedAt        time.Time           `json:"updatedAt"`
}

type runCountsJSON struct {
	Received      int64 `json:"received"`
	Reconciled    int64 `json:"reconciled"`
	NotRecognized int64 `json:"notRecognized"`
	Added         int64 `json:"added"`
	Removed       int64 `json:"removed"`
	Exported      int64 `json:"exported"`
	Complement    int64 `json:"complement"`
}

type runProgressJSON struct {
	Phase string `json:"phase"`
	Done  int64  `json:"done"`
	Total int64  `json:"total"`
}

// runReasonsJSON splits notRecognized by why a member was not carried.
type runReasonsJSON struct {
	NoRecipient  int64 `json:"noRecipient"`
	Malformed    int64 `json:"malformed"`
	HashMismatch int64 `json:"hashMismatch"`
}

// runJSON is a sync run in the Campaign API: the fields of SPEC.md, then
// trigger, progress, listSize, matchRate, retryOf and reasons.
type runJSON struct {
	ID         int64            `json:"id"`
	Kind       models.RunKind   `json:"kind"`
	Status     models.RunStatus `json:"status"`
	Subject    map[string]int64 `json:"subject"`
	Counts     runCountsJSON    `json:"counts"`
	Error      *string          `json:"error"`
	QueuedAt   time.Time        `json:"queuedAt"`
	StartedAt  *time.Time       `json:"startedAt"`
	FinishedAt *time.Time       `json:"finishedAt"`

	Trigger   models.RunTrigger `json:"trigger"`
	Progress  runProgressJSON   `json:"progress"`
	ListSize  int64             `json:"listSize"`
	MatchRate float64           `json:"matchRate"`
	RetryOf   *int64            `json:"retryOf"`
	Reasons   runReasonsJSON    `json:"reasons"`
}

func utcOrNil(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func runOut(r *models.Run) runJSON {
	subject := map[string]int64{}
	if r.ListID != nil {
		subject["list"] = *r.ListID
	}
	if r.WorkflowID != nil {
		subject["workflow"] = *r.WorkflowID
	}
	var msg *string
	if r.Error != "" {
		msg = &r.Error
	}
	return runJSON{ID: r.ID, Kind: r.Kind, Status: r.Status, Subject: subject,
		Counts: runCountsJSON{Received: r.Received, Reconciled: r.Reconciled, NotRecognized: r.NotRecognized, Added: r.Added,
			Removed: r.Removed, Exported: r.Exported, Complement: r.Complement},
		Error: msg, QueuedAt: r.QueuedAt.UTC(), StartedAt: utcOrNil(r.StartedAt), FinishedAt: utcOrNil(r.FinishedAt),
		Trigger: r.Trigger, Progress: runProgressJSON{Phase: r.Phase, Done: r.ProgressDone, Total: r.ProgressTotal},
		ListSize: r.ListSize, MatchRate: r.MatchRate(), RetryOf: r.RetryOf,
		Reasons: runReasonsJSON{NoRecipient: r.NoRecipient(), Malformed: r.Malformed, HashMismatch: r.HashMismatch}}
}

// listOut builds a list's JSON with its data source's name and its last
// run; names caches data source names over a page, and runs, when not nil,
// holds the page's last runs. A data source or run that no longer exists is
// shown as null rather than hiding the list.
func (h *Handlers) listOut(ctx context.Context, l *models.List, names map[int64]string, runs map[int64]*models.Run) (listJSON, error) {
	out := listJSON{ID: l.ID, Label: l.Label, InternalName: l.InternalName, Type: l.Type, Description: l.Description, Size: l.Size,
		CreatedAt: l.CreatedAt.UTC(), UpdatedAt: l.UpdatedAt.UTC()}
	if l.Type != models.SharedAudienceList {
		return out, nil
	}
	every := l.SyncEveryMinutes
	out.SyncEveryMinutes, out.NextSyncAt = &every, utcOrNil(l.NextSyncAt)
	if l.SegmentID != nil {
		out.SharedAudience = &sharedAudienceJSON{SID: *l.SegmentID, Name: l.SegmentName}
	}
	if l.DataSourceID != nil {
		name, ok := names[*l.DataSourceID]
		if !ok {
			ds, err := h.Store.DataSourceByID(ctx, *l.DataSourceID)
			switch {
			case err == nil:
				name = ds.InternalName
			case !errors.Is(err, models.ErrNotFound):
				return out, err
			}
			names[*l.DataSourceID] = name
		}
		if name != "" {
			out.DataSource = &name
		}
	}
	if l.LastRunID != nil && runs != nil {
		if r, ok := runs[*l.LastRunID]; ok {
			run := runOut(r)
			out.LastRun = &run
		}
	} else if l.LastRunID != nil {
		r, err := h.Store.RunByID(ctx, *l.LastRunID)
		switch {
		case err == nil:
			run := runOut(r)
			out.LastRun = &run
		case !errors.Is(err, models.ErrNotFound):
			return out, err
		}
	}
	return out, nil
}

// APIListLists answers GET /api/v1/lists?search=&type=&page=&pageSize=.
func (h *Handlers) APIListLists(c echo.Context) error {
	typ := models.ListType(strings.TrimSpace(c.QueryParam("type")))
	if typ != "" && typ != models.RegularList && typ != models.SharedAudienceList {
		return apiBadRequest(c, "type", "type must be %q or %q", models.RegularList, models.SharedAudienceList)
	}
	ctx := c.Request().Context()
	page, err := h.Store.ListLists(ctx, models.ListQuery{Search: c.QueryParam("search"), Type: string(typ), PageRequest: pageRequest(c)})
	if err != nil {
		return err
	}
	out := pagedJSON[listJSON]{Total: page.Total, Page: page.Page, PageSize: page.PageSize, List: make([]listJSON, len(page.Items))}
	names := map[int64]string{}
	runs, err := h.Store.RunsByIDs(ctx, lastRunIDs(page.Items))
	if err != nil {
		return err
	}
	for i, l := range page.Items {
		if out.List[i], err = h.listOut(ctx, l, names, runs); err != nil {
			return err
		}
	}
	return c.JSON(http.StatusOK, out)
}

// APIShowList answers GET /api/v1/lists/{id}.
func (h *Handlers) APIShowList(c echo.Context) error {
	l, err := h.loadList(c)
	if err != nil {
		return err
	}
	out, err := h.listOut(c.Request().Context(), l, map[int64]string{}, nil)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// APICreateSharedAudienceList answers POST /api/v1/lists: the list is
// stored and its first import queued, 201 with the list and "runId".
// syncEveryMinutes is optional (0: no schedule; omitted: the default).
func (h *Handlers) APICreateSharedAudienceList(c echo.Context) error {
	var body struct {
		Label            string `json:"label"`
		InternalName     string `json:"internalName"`
		Description      string `json:"description"`
		SharedAudienceID int64  `json:"sharedAudienceId"`
		DataSource       string `json:"dataSource"`
		SyncEveryMinutes *int   `json:"syncEveryMinutes"`
	}
	if done, err := decodeJSON(c, &body); done {
		return err
	}
	ctx := c.Request().Context()
	l, run, err := h.Sync.CreateList(ctx, models.ActorOf(Me(c)), models.SharedAudienceInput{
		ListInput: models.ListInput{Label: body.Label, InternalName: body.InternalName, Description: body.Description},
		SegmentID: body.SharedAudienceID, DataSource: body.DataSource, SyncEveryMinutes: body.SyncEveryMinutes})
	if err != nil {
		return err
	}
	out, err := h.listOut(ctx, l, map[int64]string{}, nil)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/lists/"+strconv.FormatInt(l.ID, 10))
	return c.JSON(http.StatusCreated, struct {
		listJSON
		RunID int64 `json:"runId"`
	}{out, run.ID})
}

// APIListMembers answers GET /api/v1/lists/{id}/members?search=&page=&pageSize=
// with the recipients of the list, as GET /api/v1/recipients shows them.
func (h *Handlers) APIListMembers(c echo.Context) error {
	l, err := h.loadList(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	page, err := h.Store.ListMembers(ctx, l.ID, c.QueryParam("search"), pageRequest(c))
	if err != nil {
		return err
	}
	ids := make([]int64, len(page.Items))
	for i, r := range page.Items {
		ids[i] = r.ID
	}
	visitors, err := h.Store.VisitorIDsOf(ctx, ids)
	if err != nil {
		return err
	}
	out := pagedJSON[recipientJSON]{Total: page.Total, Page: page.Page, PageSize: page.PageSize, List: make([]recipientJSON, len(page.Items))}
	for i, r := range page.Items {
		out.List[i] = recipientOut(r, visitors[r.ID])
	}
	return c.JSON(http.StatusOK, out)
}

// APISyncList answers POST /api/v1/lists/{id}/sync with 202 and the run
// queued; when one is already waiting, that one.
func (h *Handlers) APISyncList(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	run, err := h.Sync.Sync(c.Request().Context(), id, models.TriggerAPI, models.ActorOf(Me(c)))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]int64{"runId": run.ID})
}

var runStatuses = []models.RunStatus{models.RunQueued, models.RunRunning, models.RunSucceeded, models.RunFailed, models.RunCancelled}

// queryID reads an optional numeric filter; ok is false when the 400 has
// been written.
func queryID(c echo.Context, name string) (id int64, ok bool, err error) {
	s := strings.TrimSpace(c.QueryParam(name))
	if s == "" {
		return 0, true, nil
	}
	id, perr := strconv.ParseInt(s, 10, 64)
	if perr != nil || id <= 0 {
		return 0, false, apiBadRequest(c, name, "%s must be a positive integer id, not %q", name, s)
	}
	return id, true, nil
}

// APIListRuns answers GET /api/v1/runs?list=&workflow=&status=&page=&pageSize=,
// newest first.
func (h *Handlers) APIListRuns(c echo.Context) error {
	q := models.RunQuery{Status: models.RunStatus(strings.TrimSpace(c.QueryParam("status"))), PageRequest: pageRequest(c)}
	var ok bool
	var err error
	if q.ListID, ok, err = queryID(c, "list"); !ok {
		return err
	}
	if q.WorkflowID, ok, err = queryID(c, "workflow"); !ok {
		return err
	}
	if q.Status != "" && !slices.Contains(runStatuses, q.Status) {
		return apiBadRequest(c, "status", "status must be one of queued, running, succeeded, failed or cancelled, not %q", q.Status)
	}
	page, err := h.Store.ListRuns(c.Request().Context(), q)
	if err != nil {
		return err
	}
	out := pagedJSON[runJSON]{Total: page.Total, Page: page.Page, PageSize: page.PageSize, List: make([]runJSON, len(page.Items))}
	for i, r := range page.Items {
		out.List[i] = runOut(r)
	}
	return c.JSON(http.StatusOK, out)
}

func (h *Handlers) loadRun(c echo.Context) (*models.Run, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return nil, err
	}
	return h.Store.RunByID(c.Request().Context(), id)
}

// APIShowRun answers GET /api/v1/runs/{id}.
func (h *Handlers) APIShowRun(c echo.Context) error {
	r, err := h.loadRun(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, runOut(r))
}

// APIRetryRun answers POST /api/v1/runs/{id}/retry with 202 and the new
// run. The entitlements depend on the run's kind, so they are checked here:
// an import needs SharedAudienceImporters, an export the audience library.
func (h *Handlers) APIRetryRun(c echo.Context) error {
	r, err := h.loadRun(c)
	if err != nil {
		return err
	}
	needed, action := LibraryReaders, "retry an export to a shared audience"
	if r.Kind == models.ImportRun {
		needed, action = SharedAudienceImporters, "retry the import of a shared audience"
	}
	if err := Me(c).Require(action, needed...); err != nil {
		return err
	}
	run, err := h.Sync.Retry(c.Request().Context(), r.ID, models.ActorOf(Me(c)))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]int64{"runId": run.ID})
}

type unrecognizedJSON struct {
	Identifier string `json:"identifier"`
	Reason     string `json:"reason"`
}

// APIUnrecognizedSample answers GET /api/v1/runs/{id}/unrecognized with the
// identifiers the run did not carry and why, at most
// models.MaxUnrecognizedSample of them (counts.notRecognized stays exact).
// It is an extension of SPEC.md's Campaign API, which stops at the
// counts; it needs the audience library, as the identifiers are its.
func (h *Handlers) APIUnrecognizedSample(c echo.Context) error {
	r, err := h.loadRun(c)
	if err != nil {
		return err
	}
	sample, err := h.Store.UnrecognizedSample(c.Request().Context(), r.ID, models.MaxUnrecognizedSample)
	if err != nil {
		return err
	}
	out := make([]unrecognizedJSON, len(sample))
	for i, u := range sample {
		out[i] = unrecognizedJSON{Identifier: u.Identifier, Reason: u.Reason}
	}
	return c.JSON(http.StatusOK, map[string][]unrecognizedJSON{"list": out})
}

// lastRunIDs are the last runs of a page of lists.
func lastRunIDs(ls []*models.List) []int64 {
	var ids []int64
	for _, l := range ls {
		if l.LastRunID != nil {
			ids = append(ids, *l.LastRunID)
		}
	}
	return ids
}
