package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

// xss is what an attacker types into every text field that is shown
// again: a script element, an attribute break-out with an event handler,
// and a javascript: URL.
const xss = `"><img src=x onerror=alert(1)><script>alert(1)</script>javascript:alert(1)`

// reporter is the part of testing.T that assertInert uses.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

// failures records what assertInert reports, to test it.
type failures []string

func (f *failures) Helper()                           {}
func (f *failures) Errorf(format string, args ...any) { *f = append(*f, fmt.Sprintf(format, args...)) }

// assertInert fails when a page carries markup injected by xss: a script
// that is not the console's own, an event handler attribute, an image
// with src=x, or a javascript: URL in a link or form. When the page is
// expected to show the payload, it must be there as text or as an
// attribute value, i.e. escaped.
func assertInert(t reporter, what string, r *webtest.Response, shown bool) {
	t.Helper()
	if r.Status >= 500 {
		t.Errorf("%s: status %d", what, r.Status)
		return
	}
	r.Doc.Find("script").Each(func(_ int, s *goquery.Selection) {
		if src, _ := s.Attr("src"); !strings.HasPrefix(src, "/static/") || strings.TrimSpace(s.Text()) != "" {
			t.Errorf("%s: an injected script element: %s", what, goquery.NewDocumentFromNode(s.Get(0)).Text())
		}
	})
	if r.Doc.Find(`img[src="x"]`).Length() > 0 {
		t.Errorf("%s: an injected img element", what)
	}
	found := strings.Contains(r.Doc.Text(), xss)
	r.Doc.Find("*").Each(func(_ int, s *goquery.Selection) {
		for _, a := range s.Get(0).Attr {
			name, val := strings.ToLower(a.Key), strings.ToLower(strings.TrimSpace(a.Val))
			if strings.HasPrefix(name, "on") {
				t.Errorf("%s: an event handler attribute %s=%q on <%s>", what, a.Key, a.Val, goquery.NodeName(s))
			}
			switch name {
			case "href", "src", "action", "formaction", "hx-get", "hx-post", "data-picker-url", "data-drop-url":
				if strings.HasPrefix(val, "javascript:") {
					t.Errorf("%s: a javascript: URL in %s", what, a.Key)
				}
			}
			if strings.Contains(a.Val, xss) {
				found = true
			}
		}
	})
	if strings.Contains(r.Body, "<script>alert(1)") || strings.Contains(r.Body, "<img src=x") {
		t.Errorf("%s: the payload is in the page unescaped", what)
	}
	if shown && !found {
		t.Errorf("%s: the payload is not shown back (as text): the page may not show the field at all", what)
	}
}

// Every text field an operator (or a library) can set is shown escaped on
// every page and partial that shows it.
func TestSecurityStoredXSS(t *testing.T) {
	srv := webtest.Start(t)
	ctx := context.Background()
	admin, adminOp := srv.SignedIn(t, "ana", models.RoleAdmin, models.AudienceLibrary, models.AAMAdmin)
	sys := models.SystemActor("test")
	get := func(what, path string, shown bool) {
		t.Helper()
		assertInert(t, what+" "+path, admin.Get(path), shown)
	}
	htmx := func(what, method, path, target string, form url.Values, shown bool) *webtest.Response {
		t.Helper()
		r := admin.HTMX(method, path, target, form)
		assertInert(t, what+" "+method+" "+path+" (htmx)", r, shown)
		return r
	}

	// The operator's own name, in the header of every page and on the
	// operators pages.
	if r := admin.Post(fmt.Sprintf("/admin/operators/%d", adminOp.ID), url.Values{"name": {xss}, "email": {"ana@example.org"}, "role": {"admin"}}); r.Status >= 400 {
		t.Fatalf("rename the operator: %d", r.Status)
	}
	get("operator name", "/", true)
	get("operator name", "/admin/operators", true)
	get("operator name", fmt.Sprintf("/admin/operators/%d", adminOp.ID), true)
	htmx("operator name", http.MethodGet, "/admin/operators?search=ana", "operators-results", nil, true)

	// AMC data source labels and comments.
	ds, err := srv.Store.CreateDataSource(ctx, sys, models.DataSourceInput{Label: xss, InternalName: "xssSource", IDType: "visitorId",
		ReconciliationKey: "visitorId", IntegrationCode: "XSS", AAMDataSourceID: "100001", Comment: xss})
	if err != nil {
		t.Fatal(err)
	}
	get("data source label", "/admin/datasources", true)
	get("data source label", "/admin/datasources/"+ds.InternalName, true)
	get("data source label", "/lists/new/shared-audience", true)

	// Lists: label and description.
	list, err := srv.Store.CreateList(ctx, sys, models.ListInput{Label: xss, InternalName: "XSS1", Description: xss})
	if err != nil {
		t.Fatal(err)
	}
	get("list label", "/lists", true)
	get("list label", fmt.Sprintf("/lists/%d", list.ID), true)
	htmx("list label", http.MethodGet, "/lists?search=alert", "lists-results", nil, true)
	rcp, err := srv.Store.CreateRecipient(ctx, models.RecipientInput{Email: "victim@example.org", FirstName: xss, LastName: xss})
	if err != nil {
		t.Fatal(err)
	}
	get("recipient names", "/recipients", true)
	get("recipient names", fmt.Sprintf("/recipients/%d", rcp.ID), true)

	// Segments of the embedded library: name and description.
	if _, err := srv.Library.CreateDataSource(ctx, library.DataSource{ID: 100001, Name: xss, IDType: library.Cookie}); err != nil {
		t.Fatal(err)
	}
	seg, err := srv.Library.CreateSegment(ctx, library.SegmentInput{Name: xss, Description: xss, DataSourceID: 100001, Source: "Campaign"})
	if err != nil {
		t.Fatal(err)
	}
	get("segment name", "/library", true)
	get("segment name", "/library/segments/"+strconv.FormatInt(seg.SID, 10), true)
	htmx("segment name", http.MethodGet, "/library/picker?mode=import", "picker-dialog", nil, true)
	htmx("segment name", http.MethodGet, "/library/picker?mode=export", "picker-dialog", nil, true)
	htmx("new segment name", http.MethodPost, "/library/picker/segments", "picker-results", url.Values{"name": {xss + " new"}, "mode": {"export"}}, false)

	// Workflows: label, the query's label, the export's labels and a new
	// segment's name.
	created := admin.Post("/workflows", url.Values{"label": {xss}, "description": {xss}})
	if created.Status != http.StatusSeeOther {
		t.Fatalf("create the workflow: %d %s", created.Status, created.Text(".field-error"))
	}
	page := created.Location()
	for _, activity := range []string{"query", "export"} {
		htmx("workflow canvas", http.MethodPost, page+"/activities", "workflow-canvas", url.Values{"activity": {activity}}, false)
	}
	cond := url.Values{"queryLabel": {xss}, "cond_field": {"email"}, "cond_op": {"contains"}, "cond_value": {xss}}
	htmx("query label", http.MethodPost, page+"/activities/query", "activity-dialog", cond, false)
	htmx("query row", http.MethodPost, page+"/activities/query/row?redraw=1", "cond-0", url.Values{"row": {"1"}, "cond_field": {"email"}, "cond_op": {"contains"}, "cond_value": {xss}}, true)
	htmx("query count", http.MethodPost, page+"/activities/query/count", "query-count", cond, false)
	exp := url.Values{"label": {xss}, "audienceSid": {strconv.FormatInt(seg.SID, 10)}, "dataSource": {ds.InternalName},
		"resultLabel": {xss}, "complementEnabled": {"1"}, "complementLabel": {xss}}
	htmx("export labels", http.MethodPost, page+"/activities/export", "activity-dialog", exp, false)
	htmx("export preview", http.MethodPost, page+"/activities/export/preview", "export-preview", exp, false)
	get("workflow labels", "/workflows", true)
	get("workflow labels", page, true)
	htmx("workflow canvas", http.MethodGet, page+"/canvas", "workflow-canvas", nil, true)
	htmx("query dialog", http.MethodGet, page+"/activities/query", "activity-dialog", nil, true)
	htmx("export dialog", http.MethodGet, page+"/activities/export", "activity-dialog", nil, true)
	htmx("rename form", http.MethodGet, page+"/rename", "activity-dialog", nil, true)
	newSeg := url.Values{"label": {"x"}, "newSegmentName": {xss + " export"}, "dataSource": {ds.InternalName}}
	htmx("new segment name", http.MethodPost, page+"/activities/export", "activity-dialog", newSeg, false)

	// CSV import: the uploaded file's name, and cells that come back in
	// the rejections.
	file := "email;firstName\r\n" + xss + ";" + xss + "\r\nok@example.org;" + xss + "\r\n"
	up := admin.Upload("/recipients/import", "file", xss+".csv", []byte(file), nil)
	if up.Status != http.StatusSeeOther {
		t.Fatalf("upload: %d %s", up.Status, up.Text(`[data-testid="upload-error"]`))
	}
	assertInert(t, "mapping page", admin.Get(up.Location()), true)
	start := admin.Post(up.Location(), url.Values{"delimiter": {";"}, "col0": {"email"}, "col1": {"firstName"}, "listMode": {"none"}})
	if start.Status != http.StatusSeeOther {
		t.Fatalf("start the import: %d %s", start.Status, start.Text(".field-error, .flash"))
	}
	done := waitImport(t, admin, start.Location())
	assertInert(t, "import progress", done, false)
	get("import rejections", start.Location(), true)
	get("import history", "/recipients/imports", true)

	// Batch files: a refused name is echoed back in the error.
	r := admin.Upload("/library/files", "file", xss+".sync", []byte("x\td_sid=1\n"), nil)
	assertInert(t, "batch file name", r, false)
	r = admin.API(http.MethodPost, "/aam/v1/files?name="+url.QueryEscape(xss), srv.Token(t, adminOp), "x", "text/plain")
	if r.Status != http.StatusBadRequest || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("AAM batch file with a script for a name: %d %q", r.Status, r.Header.Get("Content-Type"))
	}

	// Labels end up in the audit trail.
	get("audit", "/admin/audit", true)
	get("notifications", "/notifications", false)
}

// Segment names that come from a remote library (another console's
// Audience-Manager-shaped API here) are escaped like the embedded ones.
func TestSecurityRemoteLibrarySegmentNamesAreEscaped(t *testing.T) {
	remote := webtest.Start(t)
	ctx := context.Background()
	if _, err := remote.Library.CreateDataSource(ctx, library.DataSource{ID: 100002, Name: xss, IDType: library.Cookie}); err != nil {
		t.Fatal(err)
	}
	seg, err := remote.Library.CreateSegment(ctx, library.SegmentInput{Name: xss, Description: xss, DataSourceID: 100002, Source: "Campaign"})
	if err != nil {
		t.Fatal(err)
	}
	token := remote.Token(t, remote.Operator(t, "svc", models.RoleAdmin, models.AudienceLibrary, models.AAMAdmin))

	srv := webtest.Start(t)
	admin, _ := srv.SignedIn(t, "ana", models.RoleAdmin, models.AudienceLibrary, models.AAMAdmin)
	for _, account := range []string{models.ImportAccount, models.ExportAccount} {
		if _, err := srv.Store.UpdateExternalAccount(ctx, models.SystemActor("test"), srv.Sync.Libraries.Secrets, account,
			models.ExternalAccountInput{Mode: "remote", BaseURL: remote.URL, Token: token}); err != nil {
			t.Fatal(err)
		}
	}
	for _, mode := range []string{"import", "export"} {
		r := admin.HTMX(http.MethodGet, "/library/picker?mode="+mode, "picker-dialog", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("picker %s: %d %s", mode, r.Status, r.Body)
		}
		assertInert(t, "remote picker "+mode, r, true)
	}
	// A shared-audience list of the remote segment shows its name too.
	saved := admin.Post("/lists/shared-audience", url.Values{"label": {"Remote"}, "audienceSid": {strconv.FormatInt(seg.SID, 10)},
		"dataSource": {models.DefaultDataSourceName}})
	if saved.Status == http.StatusSeeOther {
		assertInert(t, "remote list", admin.Get(saved.Location()), false)
	}
	assertInert(t, "external accounts", admin.Get("/admin/external-accounts"), false)
}

// The checker itself catches each kind of injection.
func TestSecurityAssertInertCatchesInjection(t *testing.T) {
	for _, body := range []string{
		`<p>` + xss + `</p>`,
		`<input value="` + xss + `">`,
		`<a href="javascript:alert(1)">x</a>`,
		`<div onmouseover="alert(1)">x</div>`,
	} {
		doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var got failures
		assertInert(&got, "fake", &webtest.Response{Status: 200, Body: body, Doc: doc}, false)
		if len(got) == 0 {
			t.Errorf("not caught: %s", body)
		}
	}
}
