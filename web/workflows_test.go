package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

// shopFixture makes n recipients on two e-mail domains; those with i%5 != 0
// have a visitor ID. It returns the expected Result and Complement of
// "email endsWith @shop.example", computed from the generator.
func shopFixture(t *testing.T, srv *webtest.Server, n int) (result, complement int64) {
	t.Helper()
	for i := range n {
		domain := "other.example"
		if i%2 == 0 {
			domain = "shop.example"
		}
		in := models.RecipientInput{Email: fmt.Sprintf("buyer%d@%s", i, domain), FirstName: "Buyer", LastName: strconv.Itoa(i)}
		if i%5 != 0 {
			in.VisitorIDs = []string{fmt.Sprintf("%038d", 7000000+i)}
		}
		if _, err := srv.Store.CreateRecipient(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		if domain == "shop.example" {
			if i%5 != 0 {
				result++
			} else {
				complement++
			}
		}
	}
	return result, complement
}

func TestWorkflowDiagramDialogsRunAndTransitions(t *testing.T) {
	srv := webtest.Start(t)
	ctx := context.Background()
	result, complement := shopFixture(t, srv, 60)
	if _, err := srv.Library.CreateDataSource(ctx, library.DataSource{ID: 100001, Name: "Visitors", IDType: library.Cookie}); err != nil {
		t.Fatal(err)
	}
	seg, err := srv.Library.CreateSegment(ctx, library.SegmentInput{Name: "Shop buyers", DataSourceID: 100001, Collecting: true, Source: "Campaign"})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := srv.SignedIn(t, "mia", models.RoleMarketer, models.AudienceLibrary)

	created := c.Post("/workflows", url.Values{"label": {"Shop export"}})
	if created.Status != http.StatusSeeOther {
		t.Fatalf("create: %d", created.Status)
	}
	page := created.Location()
	wfID := mustID(t, page)
	if r := c.Get(page); !r.Has(`[data-testid="diagram-empty"]`) || !r.Has(`[data-testid="palette-query"]`) {
		t.Fatalf("a new workflow's diagram: %s", r.Text(`[data-testid="workflow-canvas"]`))
	}
	// The palette's Query lands on the diagram.
	canvas := c.HTMX(http.MethodPost, page+"/activities", "workflow-canvas", url.Values{"activity": {"query"}})
	if canvas.Status != http.StatusOK || !canvas.Has(`[data-testid="node-query"]`) {
		t.Fatalf("add the query: %d %s", canvas.Status, canvas.Body)
	}
	// The dialog: a row is added, the live count answers.
	dlg := c.HTMX(http.MethodGet, page+"/activities/query", "activity-dialog", nil)
	if !dlg.Has(`[data-testid="query-form"]`) {
		t.Fatalf("query dialog: %s", dlg.Body)
	}
	row := c.HTMX(http.MethodPost, page+"/activities/query/row", "condition-rows", url.Values{})
	if !row.Has(`[data-testid="condition-row"]`) {
		t.Fatalf("add a condition: %s", row.Body)
	}
	redraw := c.HTMX(http.MethodPost, page+"/activities/query/row?redraw=1", "cond-0", url.Values{"row": {"1"}, "cond_field": {"createdAt"}, "cond_op": {"contains"}, "cond_value": {"x"}})
	if !redraw.Has(`input[type="date"][name="cond_value"]`) || !strings.Contains(redraw.Body, "is before") {
		t.Errorf("a date field gets a date picker and its operators: %s", redraw.Body)
	}
	conds := url.Values{"cond_field": {"email"}, "cond_op": {"endsWith"}, "cond_value": {"@SHOP.example"}}
	count := c.HTMX(http.MethodPost, page+"/activities/query/count", "query-count", conds)
	if got := count.Text(`[data-testid="count-value"]`); got != strconv.FormatInt(result+complement, 10) {
		t.Errorf("live count %q, want %d", got, result+complement)
	}
	bad := c.HTMX(http.MethodPost, page+"/activities/query", "activity-dialog", url.Values{"cond_field": {"email"}, "cond_op": {"before"}, "cond_value": {"x"}})
	if !strings.Contains(bad.Text(`[data-testid="query-error"]`), "Condition 1") || bad.Header.Get("HX-Trigger") != "" {
		t.Errorf("a bad condition: %q (trigger %q)", bad.Text(`[data-testid="query-error"]`), bad.Header.Get("HX-Trigger"))
	}
	saved := c.HTMX(http.MethodPost, page+"/activities/query", "activity-dialog", conds)
	if saved.Header.Get("HX-Trigger") != "workflow-saved" {
		t.Fatalf("save the query: %d %s", saved.Status, saved.Body)
	}

	// Update shared audience: added, previewed, saved.
	if r := c.HTMX(http.MethodPost, page+"/activities", "workflow-canvas", url.Values{"activity": {"export"}}); !r.Has(`[data-testid="node-export"]`) {
		t.Fatalf("add the export: %s", r.Body)
	}
	exp := c.HTMX(http.MethodGet, page+"/activities/export", "activity-dialog", nil)
	if got := exp.Doc.Find(`[data-testid="input-label"]`).AttrOr("value", ""); got != "Save as shared audience" {
		t.Errorf("default label %q", got)
	}
	form := url.Values{"audienceSid": {strconv.FormatInt(seg.SID, 10)}, "dataSource": {models.DefaultDataSourceName}, "complementEnabled": {"1"}}
	pv := c.HTMX(http.MethodPost, page+"/activities/export/preview", "export-preview", form)
	if pv.Text(`[data-testid="preview-result"]`) != strconv.FormatInt(result, 10) || pv.Text(`[data-testid="preview-complement"]`) != strconv.FormatInt(complement, 10) {
		t.Errorf("preview: %s", pv.Text(`[data-testid="export-preview-counts"]`))
	}
	if r := c.HTMX(http.MethodPost, page+"/activities/export", "activity-dialog", form); r.Header.Get("HX-Trigger") != "workflow-saved" {
		t.Fatalf("save the export: %s", r.Body)
	}

	// Run, then the counts are on the transitions.
	run := c.HTMX(http.MethodPost, page+"/run", "workflow-run", url.Values{})
	if run.Status != http.StatusOK {
		t.Fatalf("run: %d %s", run.Status, run.Body)
	}
	w, _ := srv.Store.WorkflowByID(ctx, wfID)
	r := waitRunDone(t, srv, *w.LastRunID)
	if r.Status != models.RunSucceeded || r.Exported != result || r.Complement != complement {
		t.Fatalf("run: %+v", r)
	}
	diagram := c.Get(page)
	for which, want := range map[string]int64{"targeted": result + complement, "result": result, "complement": complement} {
		if got := diagram.Text(`[data-testid="count-` + which + `"]`); got != strconv.FormatInt(want, 10) {
			t.Errorf("transition %s shows %q, want %d", which, got, want)
		}
	}
	if s, _ := srv.Library.Segment(ctx, seg.SID); s.Size != result || s.Collecting {
		t.Errorf("audience size %d (collecting %v), want %d", s.Size, s.Collecting, result)
	}
	csv := c.Get(fmt.Sprintf("%s/runs/%d/transitions/result.csv", page, r.ID))
	if lines := strings.Count(csv.Body, "\n"); csv.Status != http.StatusOK || int64(lines) != result+1 {
		t.Errorf("Result CSV: %d, %d lines", csv.Status, lines)
	}
	list := c.Post(fmt.Sprintf("%s/runs/%d/transitions/complement/list", page, r.ID), url.Values{"label": {"No visitor ID"}})
	if list.Status != http.StatusSeeOther {
		t.Fatalf("save the complement: %d %s", list.Status, list.Text(".field-error"))
	}
	if n := memberCount(t, srv, mustID(t, list.Location())); n != complement {
		t.Errorf("the complement list has %d members, want %d", n, complement)
	}

	// Schedule, duplicate, rename, delete.
	if r := c.Post(page+"/schedule", url.Values{"scheduleKind": {"daily"}, "scheduleTime": {"25:00"}}); r.Status != http.StatusUnprocessableEntity {
		t.Errorf("a bad time: %d", r.Status)
	}
	if r := c.Post(page+"/schedule", url.Values{"scheduleKind": {"daily"}, "scheduleTime": {"06:30"}}); r.Status != http.StatusSeeOther {
		t.Errorf("schedule: %d", r.Status)
	}
	if w, _ := srv.Store.WorkflowByID(ctx, wfID); w.NextRunAt == nil || w.NextRunAt.UTC().Format("15:04") != "06:30" {
		t.Errorf("next run %v", w.NextRunAt)
	}
	dup := c.Post(page+"/duplicate", url.Values{})
	if dup.Status != http.StatusSeeOther || dup.Location() == page {
		t.Fatalf("duplicate: %d %s", dup.Status, dup.Location())
	}
	if r := c.Post(dup.Location()+"/rename", url.Values{"label": {"Renamed copy"}}); r.Status != http.StatusSeeOther {
		t.Errorf("rename: %d", r.Status)
	}
	if r := c.Get("/workflows?search=renamed"); r.Doc.Find(`[data-testid="workflows-table"] tbody tr`).Length() != 1 {
		t.Errorf("search finds %d rows", r.Doc.Find(`[data-testid="workflows-table"] tbody tr`).Length())
	}
	if r := c.Post(dup.Location()+"/delete", url.Values{}); r.Status != http.StatusSeeOther {
		t.Errorf("delete: %d", r.Status)
	}
}

func TestWorkflowExportNeedsAudienceLibrary(t *testing.T) {
	srv := webtest.Start(t)
	c, _ := srv.SignedIn(t, "tom", models.RoleMarketer)
	created := c.Post("/workflows", url.Values{"label": {"Mine"}})
	page := created.Location()
	c.HTMX(http.MethodPost, page+"/activities", "workflow-canvas", url.Values{"activity": {"query"}})
	for i, r := range []*webtest.Response{
		c.HTMX(http.MethodPost, page+"/activities", "workflow-canvas", url.Values{"activity": {"export"}}),
		c.HTMX(http.MethodGet, page+"/activities/export", "activity-dialog", nil),
		c.HTMX(http.MethodPost, page+"/activities/export", "activity-dialog", url.Values{"dataSource": {models.DefaultDataSourceName}}),
		c.HTMX(http.MethodPost, page+"/activities/export/preview", "export-preview", url.Values{}),
		c.HTMX(http.MethodPost, page+"/run", "workflow-run", url.Values{}),
		c.Post(page+"/schedule", url.Values{"scheduleKind": {"hours"}, "scheduleHours": {"2"}}),
	} {
		if r.Status != http.StatusForbidden {
			t.Errorf("request %d (add, open, save, preview, run, schedule): %d, want 403", i, r.Status)
		}
	}
	p := c.Get(page)
	if !p.Has(`[data-testid="palette-export"][disabled]`) || !strings.Contains(p.Text(`.palette`), "Audience library") {
		t.Errorf("the palette does not say why Update shared audience is unavailable")
	}
}
