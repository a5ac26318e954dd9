package web_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

// demoServer is a console with the demo operators, recipients and library.
func demoServer(t *testing.T) *webtest.Server {
	t.Helper()
	srv := webtest.Start(t)
	ctx := context.Background()
	if _, err := srv.Store.SeedDemo(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.Store.SeedDemoData(ctx); err != nil {
		t.Fatal(err)
	}
	if err := library.SeedDemo(ctx, srv.Store); err != nil {
		t.Fatal(err)
	}
	return srv
}

// reconcilable counts, in plain SQL over the demo data, the recipients
// whose visitor IDs are members of a segment.
func reconcilable(t *testing.T, srv *webtest.Server, sid int64) int64 {
	t.Helper()
	db, err := srv.Store.SQL()
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := db.QueryRow(`SELECT COUNT(DISTINCT v.recipient_id) FROM lib_members m JOIN recipient_visitor_ids v ON v.visitor_id = m.member
		WHERE m.segment_id = $1`, sid).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestBrowserCreateSharedAudienceList(t *testing.T) {
	srv := demoServer(t)
	ctx := context.Background()
	page, err := srv.Library.Segments(ctx, library.Query{Search: "Cart abandoners"})
	if err != nil || len(page.List) != 1 {
		t.Fatalf("demo segment: %v %d", err, len(page.List))
	}
	seg := page.List[0]
	want := reconcilable(t, srv, seg.SID)
	if want == 0 {
		t.Fatal("the demo segment reconciles with nobody")
	}
	tab := webtest.Browser(t)
	problems := watchConsole(tab)
	browserLoginWith(t, tab, srv.URL, "admin", "admin-demo")

	// Lists › New › Create a shared audience…
	if err := chromedp.Do(tab, chromedp.Navigate(srv.URL+"/lists"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="lists-table"]`))); err != nil {
		t.Fatal(err)
	}
	webtest.Axe(t, tab, "lists")
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`[data-testid="new-menu"] summary`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="new-shared-audience"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="new-shared-audience"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="shared-audience-form"]`))); err != nil {
		t.Fatalf("open the window: %v", err)
	}
	webtest.Screenshot(t, tab, "shared-audience-window")
	webtest.Axe(t, tab, "shared-audience-window")

	// The picker: search, select, confirm.
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`[data-testid="select-audience"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#picker-dialog[open] [data-testid="picker-row"]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="picker-search"]`), "abandon"),
		chromedp.WaitNotPresent(chromedp.CSS(`#picker-dialog [data-testid="picker-row"]:nth-child(2)`))); err != nil {
		t.Fatalf("search in the picker: %v", err)
	}
	if n := countOf(t, tab, `#picker-dialog [data-testid="picker-row"]`); n != 1 {
		t.Fatalf("the picker shows %d rows for 'abandon'", n)
	}
	webtest.Axe(t, tab, "shared-audience-picker")
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`#picker-dialog [data-testid="picker-check"]`)),
		chromedp.WaitEnabled(chromedp.CSS(`[data-testid="picker-confirm"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="picker-confirm"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`#picker-dialog[open]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="preview-ready"]`))); err != nil {
		t.Fatalf("confirm and preview: %v", err)
	}
	value := func(sel string) string {
		v, err := chromedp.Run(tab, chromedp.Value(chromedp.CSS(sel)))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if got := value(`#field-label`); got != seg.Name {
		t.Errorf("label %q, want the audience's name", got)
	}
	if got := value(`#field-audienceSid`); got != strconv.FormatInt(seg.SID, 10) {
		t.Errorf("audience identifier %q", got)
	}
	if got := value(`#field-audienceName`); got != seg.Name {
		t.Errorf("audience name %q", got)
	}
	if got := value(`#field-description`); got != seg.Description {
		t.Errorf("description %q", got)
	}
	if got := value(`#field-dataSource`); got != models.DefaultDataSourceName {
		t.Errorf("data source %q, want the one of DPID %d", got, seg.DataSourceID)
	}
	if ro, _ := chromedp.Run(tab, chromedp.Evaluate[bool](`document.getElementById("field-audienceName").readOnly`)); !ro {
		t.Error("the audience name can be typed over")
	}
	got, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`[data-testid="preview-recipients"]`)))
	if got != strconv.FormatInt(want, 10) {
		t.Errorf("the preview says %s recipients, want %d", got, want)
	}
	webtest.Screenshot(t, tab, "shared-audience-preview")

	// Save, then watch the run finish and the members appear.
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`[data-testid="shared-audience-save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sync-status"]`))); err != nil {
		t.Fatalf("save: %v", err)
	}
	deadline, cancel := context.WithTimeout(tab, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(deadline, chromedp.WaitVisible(chromedp.CSS(`[data-testid="sync-status"][data-status="succeeded"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="member-row"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="run-row"][data-status="succeeded"]`))); err != nil {
		t.Fatalf("the run did not finish on the page: %v", err)
	}
	size, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`[data-testid="list-size"]`)))
	summary, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`[data-testid="sync-summary"]`)))
	if !strings.Contains(summary, strconv.FormatInt(seg.Size, 10)) {
		t.Errorf("summary %q does not name the %d members received", summary, seg.Size)
	}
	// The size in the properties was drawn before the run ended; reload.
	if err := chromedp.Do(tab, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`[data-testid="member-row"]`))); err != nil {
		t.Fatal(err)
	}
	size, _ = chromedp.Run(tab, chromedp.Text(chromedp.CSS(`[data-testid="list-size"]`)))
	if size != strconv.FormatInt(want, 10) {
		t.Errorf("list size %s, want %d", size, want)
	}
	webtest.Screenshot(t, tab, "shared-audience-list")
	if p := problems(); len(p) > 0 {
		t.Errorf("browser console: %v", p)
	}
}

func TestBrowserSharedAudienceRefusedWithoutAAMAdmin(t *testing.T) {
	srv := demoServer(t)
	srv.Operator(t, "libby", models.RoleMarketer, models.AudienceLibrary)
	tab := webtest.Browser(t)
	browserLogin(t, tab, srv.URL, "libby")
	if err := chromedp.Do(tab, chromedp.Navigate(srv.URL+"/lists"),
		chromedp.Click(chromedp.CSS(`[data-testid="new-menu"] summary`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="new-shared-audience"]`))); err != nil {
		t.Fatalf("open the New menu: %v", err)
	}
	hint, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('[data-testid="new-shared-audience"]').textContent`))
	if !strings.Contains(hint, "Audience Manager administrator") {
		t.Errorf("the disabled entry says %q", hint)
	}
	webtest.Screenshot(t, tab, "shared-audience-refused-menu")
	if err := chromedp.Do(tab, chromedp.Navigate(srv.URL+"/lists/new/shared-audience"),
		chromedp.WaitVisible(chromedp.CSS(`body`))); err != nil {
		t.Fatal(err)
	}
	text, _ := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`main`)))
	if !strings.Contains(text, "aam-admin") && !strings.Contains(text, "Audience Manager administrator") {
		t.Errorf("the refusal does not name the missing entitlement: %q", text)
	}
	if strings.Contains(text, "Experience Cloud audiences") {
		t.Error("the window opened without aam-admin")
	}
	webtest.Screenshot(t, tab, "shared-audience-refused")
}
