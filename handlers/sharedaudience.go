package handlers

import (
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"audiencebridge/models"
	"audiencebridge/views/layouts"
	"audiencebridge/views/pages/lists"
)

// SharedAudienceImporters are the entitlements "Create a shared audience…"
// and synchronising a list need: the Audience library product and an
// Audience Manager administrator, as Adobe asks.
var SharedAudienceImporters = []models.Entitlement{models.AudienceLibrary, models.AAMAdmin}

// canImportAudiences reports whether an operator holds SharedAudienceImporters.
func canImportAudiences(op *models.Operator) bool {
	for _, e := range SharedAudienceImporters {
		if !op.Has(e) {
			return false
		}
	}
	return true
}

// sharedAudienceMenuItem is the New menu's entry, disabled with the reason
// for an operator who may not use it.
func sharedAudienceMenuItem(op *models.Operator) layouts.MenuItem {
	item := layouts.MenuItem{Label: "Create a shared audience…", Href: lists.SharedAudienceNewPath, TestID: "new-shared-audience"}
	if !canImportAudiences(op) {
		item.Disabled = true
		item.Hint = "Needs the Audience library and Audience Manager administrator entitlements; an administrator grants them."
	}
	return item
}

func (h *Handlers) sharedAudienceForm(c echo.Context, status int, vm lists.SharedAudienceFormVM) error {
	ds, err := h.Store.ListDataSources(c.Request().Context(), models.DataSourceQuery{PageRequest: models.PageRequest{PageSize: models.MaxPageSize}})
	if err != nil {
		return err
	}
	vm.DataSources, vm.CSRF = ds.Items, h.Sessions.CSRFToken(c)
	f := h.Frame(c, "Create a shared audience", "lists", crumbs(listsCrumbs, layouts.Crumb{Label: "Create a shared audience"})...)
	f.Subtitle = "A list that follows a shared audience of the Experience Cloud: its members are the audience's members that are recipients."
	return render(c, status, lists.SharedAudienceNew(f, vm))
}

// NewSharedAudienceList opens the "Create a shared audience…" window.
func (h *Handlers) NewSharedAudienceList(c echo.Context) error {
	name, err := h.Store.NextListInternalName(c.Request().Context())
	if err != nil {
		return err
	}
	return h.sharedAudienceForm(c, http.StatusOK, lists.SharedAudienceFormVM{Input: models.SharedAudienceInput{ListInput: models.ListInput{InternalName: name}}})
}

// sharedAudienceInput reads the window's fields.
func sharedAudienceInput(c echo.Context) (models.SharedAudienceInput, models.ValidationErrors) {
	in := models.SharedAudienceInput{
		ListInput:   models.ListInput{Label: c.FormValue("label"), InternalName: c.FormValue("internalName"), Description: c.FormValue("description")},
		SegmentName: c.FormValue("audienceName"), DataSource: strings.TrimSpace(c.FormValue("dataSource")),
	}
	var v models.ValidationErrors
	if sid := strings.TrimSpace(c.FormValue("audienceSid")); sid != "" {
		n, err := strconv.ParseInt(sid, 10, 64)
		if err != nil || n <= 0 {
			v.Add("sharedAudienceId", "%q is not an audience identifier: select the audience in the picker", sid)
		}
		in.SegmentID = n
	}
	if every := strings.TrimSpace(c.FormValue("syncEveryMinutes")); every != "" {
		n, err := strconv.Atoi(every)
		if err != nil {
			v.Add("syncEveryMinutes", "choose a schedule in the list")
		}
		in.SyncEveryMinutes = &n
	}
	return in, v
}

// CreateSharedAudienceList saves the window: the list and its first import.
func (h *Handlers) CreateSharedAudienceList(c echo.Context) error {
	in, v := sharedAudienceInput(c)
	if len(v) > 0 {
		return h.sharedAudienceForm(c, http.StatusUnprocessableEntity, lists.SharedAudienceFormVM{Input: in, Errors: v})
	}
	l, _, err := h.Sync.CreateList(c.Request().Context(), models.ActorOf(Me(c)), in)
	if problems, ok := formProblems(err); ok {
		return h.sharedAudienceForm(c, statusOfProblem(err), lists.SharedAudienceFormVM{Input: in, Errors: problems})
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", fmt.Sprintf("List %s (%s) created; its first sync with the audience %q has started.", l.Label, l.InternalName, l.SegmentName))
	return redirect(c, lists.Href(l))
}

// PreviewSharedAudience answers the window's Preview with the match rate.
func (h *Handlers) PreviewSharedAudience(c echo.Context) error {
	in, v := sharedAudienceInput(c)
	vm := lists.PreviewVM{}
	switch {
	case len(v) > 0:
		vm.Problem = capitalize(v[0].Message) + "."
	case in.SegmentID <= 0:
		vm.Problem = "Select a shared audience to see its match rate."
	case in.DataSource == "":
		vm.Problem = "Choose the AMC data source to see how the audience's members reconcile."
	default:
		p, err := h.Sync.Preview(c.Request().Context(), in.SegmentID, in.DataSource)
		var ve *models.ValidationError
		switch {
		case errors.As(err, &ve):
			vm.Problem = capitalize(ve.Message) + "."
		case err != nil:
			return err
		default:
			vm.Preview = p
		}
	}
	return render(c, http.StatusOK, lists.PreviewResult(vm))
}

// syncVM gathers what a shared-audience list's page shows of its syncs.
func (h *Handlers) syncVM(c echo.Context, l *models.List) (*lists.SyncVM, error) {
	ctx := c.Request().Context()
	me := Me(c)
	vm := &lists.SyncVM{List: l, CanSync: canImportAudiences(me), CanReadLibrary: me.Has(models.AudienceLibrary),
		CSRF: h.Sessions.CSRFToken(c), Now: h.Store.Now()}
	if l.DataSourceID != nil {
		ds, err := h.Store.DataSourceByID(ctx, *l.DataSourceID)
		if err != nil && !errors.Is(err, models.ErrNotFound) {
			return nil, err
		}
		vm.DataSource = ds
	}
	if l.LastRunID != nil {
		r, err := h.Store.RunByID(ctx, *l.LastRunID)
		if err != nil && !errors.Is(err, models.ErrNotFound) {
			return nil, err
		}
		vm.LastRun = r
	}
	req := pageRequest(c)
	if c.Path() != "/lists/:id/runs" {
		req.Page = 0
	}
	req.PageSize = 10
	var err error
	if vm.Runs, err = h.Store.ListRuns(ctx, models.RunQuery{ListID: l.ID, PageRequest: req}); err != nil {
		return nil, err
	}
	if vm.Trend, err = h.Store.RecentRuns(ctx, l.ID, 20); err != nil {
		return nil, err
	}
	return vm, nil
}

// ListSyncStatus is the polled status panel; when the run it watched has
// ended it tells the page, which refreshes the members and the history.
func (h *Handlers) ListSyncStatus(c echo.Context) error {
	l, err := h.loadSharedAudienceList(c)
	if err != nil {
		return err
	}
	vm, err := h.syncVM(c, l)
	if err != nil {
		return err
	}
	if watch, _ := strconv.ParseInt(c.QueryParam("watch"), 10, 64); watch > 0 {
		if r, err := h.Store.RunByID(c.Request().Context(), watch); err == nil && r.Finished() {
			c.Response().Header().Set("HX-Trigger", "list-synced")
		}
	}
	return render(c, http.StatusOK, lists.SyncStatus(*vm))
}

// ListRunHistory is the run history, a fragment for HTMX paging.
func (h *Handlers) ListRunHistory(c echo.Context) error {
	l, err := h.loadSharedAudienceList(c)
	if err != nil {
		return err
	}
	vm, err := h.syncVM(c, l)
	if err != nil {
		return err
	}
	if isHTMX(c) {
		return render(c, http.StatusOK, lists.RunHistory(*vm))
	}
	return redirect(c, lists.Href(l)+"#runs-title")
}

func (h *Handlers) loadSharedAudienceList(c echo.Context) (*models.List, error) {
	l, err := h.loadList(c)
	if err != nil {
		return nil, err
	}
	if l.Type != models.SharedAudienceList {
		return nil, fmt.Errorf("%s is a regular list, it has no syncs: %w", l.InternalName, models.ErrNotFound)
	}
	return l, nil
}

// answerSync answers Synchronize now and Retry: the status panel for HTMX,
// else back to the list with a message.
func (h *Handlers) answerSync(c echo.Context, l *models.List, run *models.Run, what string) error {
	if isHTMX(c) {
		fresh, err := h.Store.ListByID(c.Request().Context(), l.ID)
		if err != nil {
			return err
		}
		vm, err := h.syncVM(c, fresh)
		if err != nil {
			return err
		}
		return render(c, http.StatusOK, lists.SyncStatus(*vm))
	}
	h.flash(c, "success", fmt.Sprintf("%s: run #%d is queued.", what, run.ID))
	return redirect(c, lists.Href(l))
}

// SyncList is Synchronize now.
func (h *Handlers) SyncList(c echo.Context) error {
	l, err := h.loadSharedAudienceList(c)
	if err != nil {
		return err
	}
	run, err := h.Sync.Sync(c.Request().Context(), l.ID, models.TriggerManual, models.ActorOf(Me(c)))
	if err != nil {
		return err
	}
	return h.answerSync(c, l, run, "Synchronisation requested")
}

// RetryListRun retries a failed run of the list.
func (h *Handlers) RetryListRun(c echo.Context) error {
	l, err := h.loadSharedAudienceList(c)
	if err != nil {
		return err
	}
	r, err := h.listRun(c, l)
	if err != nil {
		return err
	}
	run, err := h.Sync.Retry(c.Request().Context(), r.ID, models.ActorOf(Me(c)))
	if err != nil {
		return err
	}
	return h.answerSync(c, l, run, fmt.Sprintf("Retrying run #%d", r.ID))
}

// SetListSchedule changes how often the list re-syncs.
func (h *Handlers) SetListSchedule(c echo.Context) error {
	l, err := h.loadSharedAudienceList(c)
	if err != nil {
		return err
	}
	every, err := strconv.Atoi(strings.TrimSpace(c.FormValue("syncEveryMinutes")))
	if err != nil {
		return models.Invalid("syncEveryMinutes", "choose a schedule in the list")
	}
	l, err = h.Store.SetListSchedule(c.Request().Context(), models.ActorOf(Me(c)), l.ID, every)
	if err != nil {
		return err
	}
	h.flash(c, "success", fmt.Sprintf("%s: %s.", l.Label, strings.ToLower(lists.ScheduleLabel(l.SyncEveryMinutes))))
	return redirect(c, lists.Href(l))
}

// listRun loads the run of the path, which must be one of the list's.
func (h *Handlers) listRun(c echo.Context, l *models.List) (*models.Run, error) {
	id, err := pathID(c, "run")
	if err != nil {
		return nil, err
	}
	r, err := h.Store.RunByID(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	if r.ListID == nil || *r.ListID != l.ID {
		return nil, fmt.Errorf("run #%d of %s: %w", id, l.InternalName, models.ErrNotFound)
	}
	return r, nil
}

// ShowListRun shows a run with the identifiers it did not carry.
func (h *Handlers) ShowListRun(c echo.Context) error {
	l, err := h.loadSharedAudienceList(c)
	if err != nil {
		return err
	}
	r, err := h.listRun(c, l)
	if err != nil {
		return err
	}
	sample, err := h.Store.UnrecognizedSample(c.Request().Context(), r.ID, 0)
	if err != nil {
		return err
	}
	f := h.Frame(c, fmt.Sprintf("Run #%d", r.ID), "lists", crumbs(listsCrumbs, layouts.Crumb{Label: l.Label, Href: lists.Href(l)}, layouts.Crumb{Label: fmt.Sprintf("Run #%d", r.ID)})...)
	f.Subtitle = l.InternalName + " · " + string(r.Kind) + " · " + r.Trigger.Label()
	return render(c, http.StatusOK, lists.RunPage(f, lists.RunVM{List: l, Run: r, Sample: sample, Now: h.Store.Now()}))
}

// DownloadUnrecognized sends a run's sample of identifiers not carried.
func (h *Handlers) DownloadUnrecognized(c echo.Context) error {
	l, err := h.loadSharedAudienceList(c)
	if err != nil {
		return err
	}
	r, err := h.listRun(c, l)
	if err != nil {
		return err
	}
	sample, err := h.Store.UnrecognizedSample(c.Request().Context(), r.ID, 0)
	if err != nil {
		return err
	}
	resp := c.Response()
	resp.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	resp.Header().Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s-run-%d-not-recognized.csv"`, l.InternalName, r.ID))
	resp.WriteHeader(http.StatusOK)
	w := csv.NewWriter(resp)
	if err := w.Write([]string{"identifier", "reason"}); err != nil {
		return err
	}
	for _, u := range sample {
		if err := w.Write(neutralize([]string{u.Identifier, u.Reason})); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}
