package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

// apiWorkflowsWorld is a console with recipients on two e-mail domains,
// most with visitor IDs, an audience library with the data source 100001
// that the built-in AMC data source declares, an audience already named
// "Taken audience", and what an export of the @shop.example recipients
// must give, worked out from the generated data alone.
type apiWorkflowsWorld struct {
	srv *webtest.Server
	c   *webtest.Client
	// Tokens: exporter holds audience-library only, nobody no entitlement.
	exporter, nobody string
	taken            library.Segment

	// The @shop.example recipients with a visitor ID (Result), without
	// (Complement), and their distinct visitor IDs.
	result, complement, identifiers int64
}

const apiWorkflowsDPID = 100001

func apiWorkflowsVisitor(n int) string { return fmt.Sprintf("%038d", 8000000+n) }

// newAPIWorkflowsWorld makes n recipients: even ones on @shop.example, odd
// ones on @other.example; those with i%5 != 0 have a visitor ID and those
// with i%7 == 1 a second one.
func newAPIWorkflowsWorld(t *testing.T, n int) *apiWorkflowsWorld {
	t.Helper()
	ctx := context.Background()
	srv := webtest.Start(t)
	w := &apiWorkflowsWorld{srv: srv, c: srv.Client(t),
		exporter: srv.Token(t, srv.Operator(t, "eva", models.RoleMarketer, models.AudienceLibrary)),
		nobody:   srv.Token(t, srv.Operator(t, "bob", models.RoleMarketer))}
	for i := range n {
		domain := "other.example"
		if i%2 == 0 {
			domain = "shop.example"
		}
		in := models.RecipientInput{Email: fmt.Sprintf("wf%03d@%s", i, domain)}
		if i%5 != 0 {
			in.VisitorIDs = append(in.VisitorIDs, apiWorkflowsVisitor(i))
		}
		if i%7 == 1 {
			in.VisitorIDs = append(in.VisitorIDs, apiWorkflowsVisitor(500+i))
		}
		if _, err := srv.Store.CreateRecipient(ctx, in); err != nil {
			t.Fatal(err)
		}
		if domain != "shop.example" {
			continue
		}
		if len(in.VisitorIDs) > 0 {
			w.result++
			w.identifiers += int64(len(in.VisitorIDs))
		} else {
			w.complement++
		}
	}
	if _, err := srv.Library.CreateDataSource(ctx, library.DataSource{ID: apiWorkflowsDPID, Name: "Visitors", IDType: library.Cookie}); err != nil {
		t.Fatal(err)
	}
	taken, err := srv.Library.CreateSegment(ctx, library.SegmentInput{Name: "Taken audience", DataSourceID: apiWorkflowsDPID})
	if err != nil {
		t.Fatal(err)
	}
	w.taken = taken
	// A new audience is created under the AAM data source of the AMC one.
	builtin, err := srv.Store.DataSourceByInternalName(ctx, models.DefaultDataSourceName)
	if err != nil {
		t.Fatal(err)
	}
	in := builtin.Input()
	in.AAMDataSourceID = fmt.Sprint(apiWorkflowsDPID)
	if _, err := srv.Store.UpdateDataSource(ctx, models.SystemActor("test"), models.DefaultDataSourceName, in); err != nil {
		t.Fatal(err)
	}
	return w
}

// apiWorkflow is a workflow as the API shows it.
type apiWorkflow struct {
	ID           int64  `json:"id"`
	Label        string `json:"label"`
	InternalName string `json:"internalName"`
	Description  string `json:"description"`
	Query        struct {
		Conditions []models.Condition `json:"conditions"`
	} `json:"query"`
	SharedAudience *struct {
		SID  int64  `json:"sid"`
		Name string `json:"name"`
	} `json:"sharedAudience"`
	NewSegmentName    *string `json:"newSegmentName"`
	DataSource        *string `json:"dataSource"`
	ComplementEnabled bool    `json:"complementEnabled"`
	ResultLabel       string  `json:"resultLabel"`
	ComplementLabel   string  `json:"complementLabel"`
	Schedule          struct {
		Kind      string  `json:"kind"`
		Time      string  `json:"time"`
		Hours     int     `json:"hours"`
		NextRunAt *string `json:"nextRunAt"`
	} `json:"schedule"`
	Transitions struct {
		Result     int64 `json:"result"`
		Complement int64 `json:"complement"`
	} `json:"transitions"`
	LastRun     *apiRun `json:"lastRun"`
	ExportLabel string  `json:"exportLabel"`
}

var workflowKeys = []string{"id", "label", "internalName", "description", "query", "sharedAudience", "newSegmentName", "dataSource",
	"complementEnabled", "resultLabel", "complementLabel", "schedule", "transitions", "lastRun", "exportLabel", "createdAt", "updatedAt"}

// call sends an API request and decodes its answer, failing unless the
// status is the one expected.
func (w *apiWorkflowsWorld) call(t *testing.T, method, path, token string, body any, status int, out any) *webtest.Response {
	t.Helper()
	r := w.c.API(method, path, token, body)
	if r.Status != status {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, r.Status, status, r.Body)
	}
	if out != nil {
		r.JSON(t, out)
	}
	return r
}

// refused checks an error answer: its status, field and a word of its
// message.
func (w *apiWorkflowsWorld) refused(t *testing.T, method, path, token string, body any, status int, field, says string) {
	t.Helper()
	var e apiError
	w.call(t, method, path, token, body, status, &e)
	if e.Field != field || !strings.Contains(e.Error, says) {
		t.Errorf("%s %s: error %q field %q, want field %q and a message with %q", method, path, e.Error, e.Field, field, says)
	}
}

// waitRun polls GET /api/v1/runs/{id} until the run has finished.
func (w *apiWorkflowsWorld) waitRun(t *testing.T, id int64) apiRun {
	t.Helper()
	for range 1200 {
		var run apiRun
		w.call(t, http.MethodGet, fmt.Sprintf("/api/v1/runs/%d", id), w.exporter, nil, http.StatusOK, &run)
		switch run.Status {
		case "succeeded", "failed", "cancelled":
			return run
		case "queued", "running":
		default:
			t.Fatalf("run #%d has status %q", id, run.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("run #%d did not finish in time", id)
	return apiRun{}
}

func (w *apiWorkflowsWorld) workflow(t *testing.T, id int64) apiWorkflow {
	t.Helper()
	var wf apiWorkflow
	r := w.call(t, http.MethodGet, fmt.Sprintf("/api/v1/workflows/%d", id), w.exporter, nil, http.StatusOK, &wf)
	wantKeys(t, "workflow", []byte(r.Body), workflowKeys...)
	return wf
}

func (w *apiWorkflowsWorld) total(t *testing.T) int64 {
	t.Helper()
	var page struct {
		Total int64 `json:"total"`
	}
	w.call(t, http.MethodGet, "/api/v1/workflows", w.exporter, nil, http.StatusOK, &page)
	return page.Total
}

func (w *apiWorkflowsWorld) run(t *testing.T, id int64) apiRun {
	t.Helper()
	var queued struct {
		RunID int64 `json:"runId"`
	}
	w.call(t, http.MethodPost, fmt.Sprintf("/api/v1/workflows/%d/run", id), w.exporter, nil, http.StatusAccepted, &queued)
	if queued.RunID == 0 {
		t.Fatal("no runId")
	}
	return w.waitRun(t, queued.RunID)
}

// shopBuyers is the body of a workflow exporting the @shop.example
// recipients to a new audience.
func shopBuyers(segmentName string) map[string]any {
	return map[string]any{"label": "Shop buyers",
		"query":                map[string]any{"conditions": []map[string]string{{"field": "email", "op": "endsWith", "value": "@shop.example"}}},
		"updateSharedAudience": map[string]any{"newSegmentName": segmentName},
		"dataSource":           models.DefaultDataSourceName, "complementEnabled": true}
}

func TestAPIWorkflowsExportToANewAudience(t *testing.T) {
	w := newAPIWorkflowsWorld(t, 90)
	ctx := context.Background()

	var created apiWorkflow
	r := w.call(t, http.MethodPost, "/api/v1/workflows", w.exporter, shopBuyers("Shop buyers"), http.StatusCreated, &created)
	wantKeys(t, "created workflow", []byte(r.Body), workflowKeys...)
	if loc := r.Location(); loc != fmt.Sprintf("/api/v1/workflows/%d", created.ID) {
		t.Errorf("Location %q", loc)
	}
	if created.SharedAudience != nil || created.NewSegmentName == nil || *created.NewSegmentName != "Shop buyers" {
		t.Errorf("before its first run: sharedAudience %+v, newSegmentName %v", created.SharedAudience, created.NewSegmentName)
	}
	if created.DataSource == nil || *created.DataSource != models.DefaultDataSourceName || !created.ComplementEnabled ||
		created.ResultLabel != "Result" || created.ComplementLabel != "Complement" || created.Schedule.Kind != "once" ||
		created.LastRun != nil || created.Transitions.Result != 0 || created.Transitions.Complement != 0 ||
		!strings.HasPrefix(created.InternalName, "WKF") {
		t.Errorf("created workflow: %+v", created)
	}
	want := []models.Condition{{Field: "email", Op: "endsWith", Value: "@shop.example"}}
	if fmt.Sprint(created.Query.Conditions) != fmt.Sprint(want) {
		t.Errorf("conditions %v, want %v", created.Query.Conditions, want)
	}

	// The paged list and its search.
	var page struct {
		Total    int64             `json:"total"`
		Page     int               `json:"page"`
		PageSize int               `json:"pageSize"`
		List     []json.RawMessage `json:"list"`
	}
	w.call(t, http.MethodGet, "/api/v1/workflows?search=shop", w.exporter, nil, http.StatusOK, &page)
	if page.Total != 1 || len(page.List) != 1 || page.Page != 0 || page.PageSize == 0 {
		t.Fatalf("search shop: %+v", page)
	}
	wantKeys(t, "listed workflow", page.List[0], workflowKeys...)
	w.call(t, http.MethodGet, "/api/v1/workflows?search=nothing-like-it", w.exporter, nil, http.StatusOK, &page)
	if page.Total != 0 || len(page.List) != 0 {
		t.Errorf("search for nothing: %+v", page)
	}

	first := w.run(t, created.ID)
	if first.Status != "succeeded" || first.Kind != "export" || first.Subject["workflow"] != created.ID || len(first.Subject) != 1 {
		t.Fatalf("first run: %+v", first)
	}
	c := first.Counts
	if c.Exported != w.result || c.Complement != w.complement || c.Received != w.result+w.complement || c.Added != w.identifiers {
		t.Errorf("first run exported %d complement %d received %d added %d, want %d %d %d %d",
			c.Exported, c.Complement, c.Received, c.Added, w.result, w.complement, w.result+w.complement, w.identifiers)
	}
	wf := w.workflow(t, created.ID)
	if wf.Transitions.Result != w.result || wf.Transitions.Complement != w.complement {
		t.Errorf("transitions %+v, want result %d complement %d", wf.Transitions, w.result, w.complement)
	}
	if wf.SharedAudience == nil || wf.SharedAudience.SID == 0 || wf.SharedAudience.Name != "Shop buyers" || wf.NewSegmentName != nil {
		t.Fatalf("after its first run: sharedAudience %+v, newSegmentName %v", wf.SharedAudience, wf.NewSegmentName)
	}
	if wf.LastRun == nil || wf.LastRun.ID != first.ID {
		t.Errorf("lastRun %+v, want run #%d", wf.LastRun, first.ID)
	}
	seg, err := w.srv.Library.Segment(ctx, wf.SharedAudience.SID)
	if err != nil {
		t.Fatal(err)
	}
	if seg.Size != w.identifiers || seg.Collecting || seg.DataSourceID != apiWorkflowsDPID {
		t.Errorf("new audience: size %d (want %d), collecting %v, data source %d", seg.Size, w.identifiers, seg.Collecting, seg.DataSourceID)
	}

	// Running again adds no duplicate.
	second := w.run(t, created.ID)
	if second.Status != "succeeded" || second.Counts.Added != 0 || second.Counts.Exported != w.result {
		t.Errorf("second run: %s, added %d, exported %d", second.Status, second.Counts.Added, second.Counts.Exported)
	}
	wf = w.workflow(t, created.ID)
	if wf.Transitions.Result != w.result || wf.Transitions.Complement != w.complement || wf.LastRun == nil || wf.LastRun.ID != second.ID {
		t.Errorf("after the second run: transitions %+v, lastRun %+v", wf.Transitions, wf.LastRun)
	}
	if seg, err = w.srv.Library.Segment(ctx, seg.SID); err != nil || seg.Size != w.identifiers {
		t.Errorf("after the second run the audience has %d members (%v), want %d", seg.Size, err, w.identifiers)
	}
	if w.total(t) != 1 {
		t.Errorf("%d workflows, want 1", w.total(t))
	}
}

func TestAPIWorkflowsOptionsAndAnExistingAudience(t *testing.T) {
	w := newAPIWorkflowsWorld(t, 20)
	body := map[string]any{"label": "Everyone", "internalName": "everyone", "description": "All recipients",
		"query":                map[string]any{"conditions": []any{}},
		"updateSharedAudience": map[string]any{"sharedAudienceId": w.taken.SID},
		"dataSource":           models.DefaultDataSourceName, "complementEnabled": false,
		"exportLabel": "To the library", "resultLabel": "Sent", "complementLabel": "Left over",
		"schedule": map[string]any{"kind": "daily", "time": "06:30"}}
	var wf apiWorkflow
	w.call(t, http.MethodPost, "/api/v1/workflows", w.exporter, body, http.StatusCreated, &wf)
	if wf.SharedAudience == nil || wf.SharedAudience.SID != w.taken.SID || wf.SharedAudience.Name != w.taken.Name || wf.NewSegmentName != nil {
		t.Errorf("sharedAudience %+v, newSegmentName %v", wf.SharedAudience, wf.NewSegmentName)
	}
	if wf.InternalName != "everyone" || wf.Description != "All recipients" || wf.ExportLabel != "To the library" || wf.ResultLabel != "Sent" ||
		wf.ComplementLabel != "Left over" || wf.ComplementEnabled || len(wf.Query.Conditions) != 0 {
		t.Errorf("workflow: %+v", wf)
	}
	if wf.Schedule.Kind != "daily" || wf.Schedule.Time != "06:30" || wf.Schedule.NextRunAt == nil {
		t.Errorf("schedule %+v", wf.Schedule)
	}
	// The same internal name twice is a conflict, and changes nothing.
	w.refused(t, http.MethodPost, "/api/v1/workflows", w.exporter, body, http.StatusConflict, "internalName", "already exists")
	if n := w.total(t); n != 1 {
		t.Errorf("%d workflows, want 1", n)
	}
}

func TestAPIWorkflowsRefusals(t *testing.T) {
	w := newAPIWorkflowsWorld(t, 10)
	ctx := context.Background()
	var ok apiWorkflow
	w.call(t, http.MethodPost, "/api/v1/workflows", w.exporter, shopBuyers("Good name"), http.StatusCreated, &ok)
	okRun := fmt.Sprintf("/api/v1/workflows/%d/run", ok.ID)

	// Who may.
	w.refused(t, http.MethodPost, "/api/v1/workflows", w.nobody, shopBuyers("Other name"), http.StatusForbidden, "", "audience-library")
	w.refused(t, http.MethodPost, okRun, w.nobody, nil, http.StatusForbidden, "", "audience-library")
	w.call(t, http.MethodPost, "/api/v1/workflows", "", shopBuyers("Other name"), http.StatusUnauthorized, nil)
	w.call(t, http.MethodGet, "/api/v1/workflows", "", nil, http.StatusUnauthorized, nil)
	w.call(t, http.MethodGet, fmt.Sprintf("/api/v1/workflows/%d", ok.ID), "", nil, http.StatusUnauthorized, nil)
	w.call(t, http.MethodPost, okRun, "", nil, http.StatusUnauthorized, nil)

	with := func(change func(b map[string]any)) map[string]any {
		b := shopBuyers("Other name")
		change(b)
		return b
	}
	conds := func(cs ...map[string]string) map[string]any { return map[string]any{"conditions": cs} }
	shop := map[string]string{"field": "email", "op": "endsWith", "value": "@shop.example"}
	for _, tc := range []struct {
		name   string
		body   any
		status int
		field  string
		says   string
	}{
		{"not JSON", `{"label":`, http.StatusBadRequest, "", "not valid JSON"},
		{"not an object", `[1]`, http.StatusBadRequest, "", "JSON object"},
		{"unknown body field", with(func(b map[string]any) { b["colour"] = "red" }), http.StatusBadRequest, "colour", "unknown field"},
		{"unknown key in a condition", with(func(b map[string]any) {
			b["query"] = map[string]any{"conditions": []map[string]string{{"field": "email", "op": "contains", "value": "x", "weight": "2"}}}
		}), http.StatusBadRequest, "weight", "unknown field"},
		{"no label", with(func(b map[string]any) { b["label"] = " " }), http.StatusUnprocessableEntity, "label", "label"},
		{"no query", with(func(b map[string]any) { delete(b, "query") }), http.StatusUnprocessableEntity, "query", "conditions"},
		{"unknown condition field", with(func(b map[string]any) {
			b["query"] = conds(map[string]string{"field": "shoeSize", "op": "equals", "value": "42"})
		}), http.StatusUnprocessableEntity, "conditions", "condition 1"},
		{"bad second condition", with(func(b map[string]any) {
			b["query"] = conds(shop, map[string]string{"field": "email", "op": "before", "value": "2026-01-01"})
		}), http.StatusUnprocessableEntity, "conditions", "condition 2"},
		{"unknown list", with(func(b map[string]any) {
			b["query"] = conds(map[string]string{"field": "list", "op": "inList", "value": "999"})
		}), http.StatusUnprocessableEntity, "conditions", "condition 1"},
		{"unknown data source", with(func(b map[string]any) { b["dataSource"] = "nowhere" }), http.StatusUnprocessableEntity, "dataSource", "nowhere"},
		{"no data source", with(func(b map[string]any) { delete(b, "dataSource") }), http.StatusUnprocessableEntity, "dataSource", "data source"},
		{"no audience", with(func(b map[string]any) { delete(b, "updateSharedAudience") }), http.StatusUnprocessableEntity, "updateSharedAudience", "newSegmentName"},
		{"both audiences", with(func(b map[string]any) {
			b["updateSharedAudience"] = map[string]any{"sharedAudienceId": w.taken.SID, "newSegmentName": "Both"}
		}), http.StatusUnprocessableEntity, "updateSharedAudience", "not both"},
		{"segment name taken", with(func(b map[string]any) {
			b["updateSharedAudience"] = map[string]any{"newSegmentName": "TAKEN audience"}
		}), http.StatusUnprocessableEntity, "newSegmentName", "already exists"},
		{"unknown audience", with(func(b map[string]any) {
			b["updateSharedAudience"] = map[string]any{"sharedAudienceId": 987654}
		}), http.StatusUnprocessableEntity, "sharedAudienceId", "987654"},
		{"audience id as a string", with(func(b map[string]any) {
			b["updateSharedAudience"] = map[string]any{"sharedAudienceId": "12"}
		}), http.StatusUnprocessableEntity, "updateSharedAudience.sharedAudienceId", "number"},
		{"long result label", with(func(b map[string]any) { b["resultLabel"] = strings.Repeat("r", 200) }), http.StatusUnprocessableEntity, "resultLabel", "128"},
		{"long export label", with(func(b map[string]any) { b["exportLabel"] = strings.Repeat("e", 200) }), http.StatusUnprocessableEntity, "exportLabel", "128"},
		{"bad schedule", with(func(b map[string]any) { b["schedule"] = map[string]any{"kind": "weekly"} }), http.StatusUnprocessableEntity, "schedule.kind", "daily"},
		{"bad schedule time", with(func(b map[string]any) { b["schedule"] = map[string]any{"kind": "daily", "time": "25:00"} }), http.StatusUnprocessableEntity, "schedule.time", "HH:MM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.refused(t, http.MethodPost, "/api/v1/workflows", w.exporter, tc.body, tc.status, tc.field, tc.says)
			if n := w.total(t); n != 1 {
				t.Errorf("after the refusal there are %d workflows, want 1", n)
			}
		})
	}
	// Nothing half-made is left either (a refused workflow is not only
	// hidden): the workflow ids in the database are the good one's.
	page, err := w.srv.Store.ListWorkflows(ctx, models.WorkflowQuery{})
	if err != nil || page.Total != 1 || page.Items[0].ID != ok.ID {
		t.Errorf("stored workflows: %+v %v", page, err)
	}

	// Unknown workflows.
	w.refused(t, http.MethodGet, "/api/v1/workflows/987654", w.exporter, nil, http.StatusNotFound, "", "does not exist")
	w.refused(t, http.MethodPost, "/api/v1/workflows/987654/run", w.exporter, nil, http.StatusNotFound, "", "does not exist")
	w.call(t, http.MethodGet, "/api/v1/workflows/abc", w.exporter, nil, http.StatusNotFound, nil)

	// A workflow made in the console without its activities cannot run yet.
	bare, err := w.srv.Store.CreateWorkflow(ctx, models.SystemActor("test"), models.WorkflowInput{Label: "Bare"})
	if err != nil {
		t.Fatal(err)
	}
	w.refused(t, http.MethodPost, fmt.Sprintf("/api/v1/workflows/%d/run", bare.ID), w.exporter, nil, http.StatusConflict, "", "add a Query activity first")
	shown := w.workflow(t, bare.ID)
	if shown.DataSource != nil || shown.SharedAudience != nil || shown.NewSegmentName != nil || shown.LastRun != nil || shown.Query.Conditions == nil {
		t.Errorf("bare workflow: %+v", shown)
	}
}

func TestAPIWorkflowsRetryAFailedExport(t *testing.T) {
	w := newAPIWorkflowsWorld(t, 40)
	ctx := context.Background()
	var wf apiWorkflow
	w.call(t, http.MethodPost, "/api/v1/workflows", w.exporter, shopBuyers("Soon gone"), http.StatusCreated, &wf)
	first := w.run(t, wf.ID)
	if first.Status != "succeeded" {
		t.Fatalf("first run: %+v", first)
	}
	shown := w.workflow(t, wf.ID)
	if err := w.srv.Library.DeleteSegment(ctx, shown.SharedAudience.SID); err != nil {
		t.Fatal(err)
	}
	failed := w.run(t, wf.ID)
	if failed.Status != "failed" || failed.Error == nil || !strings.Contains(*failed.Error, "no longer exists") || failed.Counts.Exported != 0 {
		t.Fatalf("run on a deleted audience: %+v", failed)
	}
	// The transitions stay those of the last run that went through.
	shown = w.workflow(t, wf.ID)
	if shown.LastRun == nil || shown.LastRun.ID != failed.ID || shown.Transitions.Result != w.result || shown.Transitions.Complement != w.complement {
		t.Errorf("after the failure: lastRun %+v, transitions %+v (want %d / %d)", shown.LastRun, shown.Transitions, w.result, w.complement)
	}

	retryPath := fmt.Sprintf("/api/v1/runs/%d/retry", failed.ID)
	w.refused(t, http.MethodPost, retryPath, w.nobody, nil, http.StatusForbidden, "", "audience-library")
	var retried struct {
		RunID int64 `json:"runId"`
	}
	w.call(t, http.MethodPost, retryPath, w.exporter, nil, http.StatusAccepted, &retried)
	again := w.waitRun(t, retried.RunID)
	if again.RetryOf == nil || *again.RetryOf != failed.ID || again.Subject["workflow"] != wf.ID || again.Trigger != string(models.TriggerRetry) {
		t.Errorf("retry run: %+v", again)
	}
	// The audience is still gone, so the retry fails the same way.
	if again.Status != "failed" || again.Error == nil || !strings.Contains(*again.Error, "no longer exists") {
		t.Errorf("retry: %s %v", again.Status, again.Error)
	}
	var runs struct {
		Total int64 `json:"total"`
	}
	w.call(t, http.MethodGet, fmt.Sprintf("/api/v1/runs?workflow=%d", wf.ID), w.exporter, nil, http.StatusOK, &runs)
	if runs.Total != 3 {
		t.Errorf("the workflow has %d runs, want 3", runs.Total)
	}
}
