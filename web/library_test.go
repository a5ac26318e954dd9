package web_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/models/dbtest"
	"audiencebridge/web"
	"audiencebridge/web/webtest"
	"audiencebridge/worker"
)

// libFixture is a console with an embedded library holding a declared-ID
// data source (created first, so the lower DPID) and a visitor-ID one.
type libFixture struct {
	srv              *webtest.Server
	lib              *library.Embedded
	declared, cookie library.DataSource
}

func newLibFixture(t *testing.T) *libFixture {
	t.Helper()
	srv := webtest.Start(t)
	lib := library.NewEmbedded(srv.Store)
	ctx := context.Background()
	declared, err := lib.CreateDataSource(ctx, library.DataSource{Name: "CRM declared IDs", IntegrationCode: "CRMID", IDType: library.CrossDevice})
	if err != nil {
		t.Fatal(err)
	}
	cookie, err := lib.CreateDataSource(ctx, library.DataSource{Name: "Web visitors", IDType: library.Cookie})
	if err != nil {
		t.Fatal(err)
	}
	return &libFixture{srv: srv, lib: lib, declared: declared, cookie: cookie}
}

// segment creates a segment through the library, a minute after the last
// change so that "newest first" has one answer.
func (f *libFixture) segment(t *testing.T, in library.SegmentInput) library.Segment {
	t.Helper()
	f.srv.Clock.Advance(time.Minute)
	if in.DataSourceID == 0 {
		in.DataSourceID = f.cookie.ID
	}
	s, err := f.lib.CreateSegment(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *libFixture) members(t *testing.T, sid int64) []string {
	t.Helper()
	var out []string
	if err := f.lib.Members(context.Background(), sid, func(b []string) error { out = append(out, b...); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// ecid is the i-th test visitor ID: 38 digits.
func ecid(i int) string { return fmt.Sprintf("%038d", i) }

func segPath(s library.Segment) string { return "/library/segments/" + strconv.FormatInt(s.SID, 10) }

// sids lists the data-sid of the rows a selection finds, in order.
func sids(sel *goquery.Selection) []int64 {
	var out []int64
	sel.Each(func(_ int, s *goquery.Selection) {
		v, _ := s.Attr("data-sid")
		n, err := strconv.ParseInt(v, 10, 64)
		if err == nil {
			out = append(out, n)
		}
	})
	return out
}

func sidsOf(segs []library.Segment) []int64 {
	out := make([]int64, len(segs))
	for i, s := range segs {
		out[i] = s.SID
	}
	return out
}

func TestLibraryEntitlementsAreCheckedOnEveryRoute(t *testing.T) {
	f := newLibFixture(t)
	seg := f.segment(t, library.SegmentInput{Name: "Visitors"})
	if _, err := f.lib.AddMembers(context.Background(), seg.SID, library.Slice([]string{ecid(1)})); err != nil {
		t.Fatal(err)
	}
	p := segPath(seg)
	nobody, _ := f.srv.SignedIn(t, "nora", models.RoleMarketer)
	aamOnly, _ := f.srv.SignedIn(t, "adam", models.RoleAdmin, models.AAMAdmin)
	reader, _ := f.srv.SignedIn(t, "rita", models.RoleMarketer, models.AudienceLibrary)
	editor, _ := f.srv.SignedIn(t, "ed", models.RoleMarketer, models.AudienceLibrary, models.AAMAdmin)

	reads := []string{"/library", "/library?search=vis", "/library/segments/new", p, "/library/picker?mode=import", "/library/picker?mode=export"}
	changes := map[string]url.Values{
		"/library/segments/new":    {"name": {"X"}, "dataSourceId": {strconv.FormatInt(f.cookie.ID, 10)}},
		p:                          {"name": {"Hacked"}},
		p + "/status":              {"status": {library.Inactive}},
		p + "/delete":              nil,
		p + "/members":             {"change": {"replace"}, "members": {ecid(2)}},
		"/library/picker/segments": {"name": {"Export"}, "mode": {"export"}},
	}
	for name, c := range map[string]*webtest.Client{"no entitlement": nobody, "aam-admin alone": aamOnly} {
		for _, path := range reads {
			r := c.Get(path)
			if r.Status != http.StatusForbidden || !strings.Contains(r.Text(`[data-testid="access-denied"]`), "Audience library") {
				t.Errorf("%s: GET %s = %d %q", name, path, r.Status, r.Text(`[data-testid="access-denied"]`))
			}
		}
		if r := c.HTMX(http.MethodGet, "/library/picker?mode=import", "picker-dialog", nil); r.Status != http.StatusForbidden || r.Has(`[data-testid="picker"]`) {
			t.Errorf("%s: HTMX picker = %d", name, r.Status)
		}
		if r := c.HTMX(http.MethodGet, "/library?page=1&pageSize=1", "library-more", nil); r.Status != http.StatusForbidden || r.Has(`[data-testid="segment-row"]`) {
			t.Errorf("%s: HTMX load more = %d", name, r.Status)
		}
		for path, form := range changes {
			if r := c.Post(path, form); r.Status != http.StatusForbidden {
				t.Errorf("%s: POST %s = %d", name, path, r.Status)
			}
		}
		if r := c.Upload(p+"/members/upload", "file", "m.txt", []byte(ecid(3)+"\n"), map[string]string{"change": "replace"}); r.Status != http.StatusForbidden {
			t.Errorf("%s: upload = %d", name, r.Status)
		}
	}

	// Audience library alone: read everything, change nothing but the
	// export's own segment.
	list := reader.Get("/library")
	if list.Status != http.StatusOK || list.Has(`[data-testid="new-segment"]`) || list.Has(`[data-testid="new-menu"]`) {
		t.Errorf("reader's list = %d, New menu shown: %v", list.Status, list.Has(`[data-testid="new-segment"]`))
	}
	if !list.Has(`[data-testid="find-segment"]`) {
		t.Error("no Find a segment button")
	}
	page := reader.Get(p)
	if page.Status != http.StatusOK || page.Has(`[data-testid="segment-edit"]`) || page.Has(`[data-testid="members-paste"]`) ||
		page.Has(`[data-testid="segment-delete"]`) || page.Has(`[data-testid="members-upload"]`) {
		t.Errorf("reader's segment page = %d with change forms", page.Status)
	}
	if r := reader.HTMX(http.MethodGet, "/library/picker?mode=import", "picker-dialog", nil); r.Status != http.StatusOK || !r.Has(`[data-testid="picker"]`) {
		t.Errorf("reader's picker = %d", r.Status)
	}
	if r := reader.Get("/library/segments/new"); r.Status != http.StatusForbidden ||
		!strings.Contains(r.Text(`[data-testid="access-denied"]`), "Audience Manager administrator") {
		t.Errorf("reader's New segment = %d %q", r.Status, r.Text(`[data-testid="access-denied"]`))
	}
	for path, form := range changes {
		if path == "/library/picker/segments" {
			continue
		}
		if r := reader.Post(path, form); r.Status != http.StatusForbidden {
			t.Errorf("reader: POST %s = %d", path, r.Status)
		}
	}
	if r := reader.Upload(p+"/members/upload", "file", "m.txt", []byte(ecid(3)+"\n"), map[string]string{"change": "replace"}); r.Status != http.StatusForbidden {
		t.Errorf("reader: upload = %d", r.Status)
	}
	got, err := f.lib.Segment(context.Background(), seg.SID)
	if err != nil || got.Name != "Visitors" || got.Status != library.Active || got.Size != 1 {
		t.Fatalf("refused changes were applied: %+v %v", got, err)
	}
	if all, _ := f.lib.Segments(context.Background(), library.Query{}); all.Total != 1 {
		t.Fatalf("refused creations were stored: %d segments", all.Total)
	}
	if r := reader.HTMX(http.MethodPost, "/library/picker/segments", "picker-results", url.Values{"name": {"Export"}, "mode": {"export"}}); r.Status != http.StatusCreated {
		t.Errorf("reader's export Create = %d %s", r.Status, r.Body)
	}

	// Both: the New menu, the change forms.
	if r := editor.Get("/library"); !r.Has(`[data-testid="new-segment"]`) {
		t.Error("an Audience Manager administrator has no New segment")
	}
	if r := editor.Get(p); !r.Has(`[data-testid="segment-edit"]`) || !r.Has(`[data-testid="members-upload"]`) {
		t.Error("an Audience Manager administrator cannot change the segment")
	}
}

func TestLibraryListSearchesSortsAndLoadsMore(t *testing.T) {
	f := newLibFixture(t)
	var created []library.Segment
	for i := range 12 {
		kind := "Alpha"
		if i%3 == 0 {
			kind = "Beta"
		}
		created = append(created, f.segment(t, library.SegmentInput{Name: fmt.Sprintf("%s %02d", kind, i), Description: "Segment number " + strconv.Itoa(i),
			Source: library.Sources[i%len(library.Sources)], Author: "author" + strconv.Itoa(i)}))
	}
	newest := slices.Clone(created)
	slices.Reverse(newest)
	admin, _ := f.srv.SignedIn(t, "ada", models.RoleAdmin, models.AudienceLibrary, models.AAMAdmin)

	first := admin.Get("/library?pageSize=5")
	if first.Status != http.StatusOK {
		t.Fatalf("list = %d", first.Status)
	}
	if got, want := sids(first.Doc.Find(`[data-testid="segment-row"]`)), sidsOf(newest[:5]); !slices.Equal(got, want) {
		t.Fatalf("first rows = %v, want newest first %v", got, want)
	}
	if got := first.Text(`[data-testid="shown-count"]`); got != "Showing 5 of 12" {
		t.Errorf("count = %q", got)
	}
	if s, _ := first.Doc.Find(`th[aria-sort="descending"] a`).Attr("href"); !strings.Contains(s, "sort=updateTime") {
		t.Errorf("Date modified is not shown as the descending sort: %q", s)
	}
	row := first.Doc.Find(`[data-testid="segment-row"]`).First()
	cells := row.Find("td")
	if cells.Length() != 6 || strings.TrimSpace(cells.Eq(0).Find("a").Text()) != "Alpha 11" ||
		strings.TrimSpace(cells.Eq(0).Find(".cell-desc").Text()) != "Segment number 11" || strings.TrimSpace(cells.Eq(1).Text()) != library.Sources[11%4] ||
		strings.TrimSpace(cells.Eq(2).Text()) != "0" || strings.TrimSpace(cells.Eq(3).Text()) != "Active" || strings.TrimSpace(cells.Eq(4).Text()) != "author11" {
		t.Errorf("first row cells = %q", cells.Text())
	}
	if href, _ := row.Find("a").Attr("href"); href != segPath(newest[0]) {
		t.Errorf("name links to %q", href)
	}

	// Load more appends the next page, then the last one.
	more, ok := first.Doc.Find(`[data-testid="load-more"]`).Attr("hx-get")
	if !ok || !strings.Contains(more, "page=1") || !strings.Contains(more, "pageSize=5") {
		t.Fatalf("load more = %q", more)
	}
	if sw, _ := first.Doc.Find(`[data-testid="load-more"]`).Attr("hx-swap"); sw != "outerHTML" {
		t.Errorf("load more swaps %q", sw)
	}
	second := admin.HTMX(http.MethodGet, more, "library-more", nil)
	rows := second.TableFragment()
	if got, want := sids(rows.Find(`[data-testid="segment-row"]`)), sidsOf(newest[5:10]); !slices.Equal(got, want) {
		t.Fatalf("second page = %v, want %v", got, want)
	}
	if strings.Contains(second.Body, "<table") || strings.Contains(second.Body, "<html") {
		t.Error("load more answers more than rows")
	}
	if _, ok := rows.Find(`[data-testid="segment-row"]`).First().Find("a").Attr("data-focus-after-load"); !ok {
		t.Error("the first appended row does not take the focus")
	}
	if got := strings.TrimSpace(rows.Find(`[data-testid="shown-count"]`).Text()); got != "Showing 10 of 12" {
		t.Errorf("count after load more = %q", got)
	}
	more, _ = rows.Find(`[data-testid="load-more"]`).Attr("hx-get")
	last := admin.HTMX(http.MethodGet, more, "library-more", nil).TableFragment()
	if got, want := sids(last.Find(`[data-testid="segment-row"]`)), sidsOf(newest[10:]); !slices.Equal(got, want) {
		t.Fatalf("last page = %v, want %v", got, want)
	}
	if got := strings.TrimSpace(last.Find(`[data-testid="shown-count"]`).Text()); got != "Showing 12 of 12" || last.Find(`[data-testid="load-more"]`).Length() != 0 {
		t.Errorf("last page count = %q, load more still offered: %d", got, last.Find(`[data-testid="load-more"]`).Length())
	}
	// Reloaded without JavaScript after one Load more, the page shows both pages.
	if r := admin.Get("/library?pageSize=5&page=1"); len(sids(r.Doc.Find(`[data-testid="segment-row"]`))) != 10 || r.Text(`[data-testid="shown-count"]`) != "Showing 10 of 12" {
		t.Errorf("cumulative reload shows %d rows", r.Doc.Find(`[data-testid="segment-row"]`).Length())
	}

	// Search as you type refreshes the results only, newest first still.
	search := admin.HTMX(http.MethodGet, "/library?search=beta&sort=updateTime&desc=1&pageSize=5", "library-results", nil)
	var betas []library.Segment
	for _, s := range newest {
		if strings.HasPrefix(s.Name, "Beta") {
			betas = append(betas, s)
		}
	}
	if got := sids(search.Doc.Find(`[data-testid="segment-row"]`)); !slices.Equal(got, sidsOf(betas)) {
		t.Errorf("search rows = %v, want %v", got, sidsOf(betas))
	}
	if search.Has(".actionbar") || search.Text(`[data-testid="shown-count"]`) != "Showing 4 of 4" {
		t.Errorf("search answer: frame %v, count %q", search.Has(".actionbar"), search.Text(`[data-testid="shown-count"]`))
	}
	if v, _ := search.Doc.Find(`input[type="hidden"][name="sort"][form="library-search"]`).Attr("value"); v != "updateTime" {
		t.Errorf("the search form does not keep the sort: %q", v)
	}
	if r := admin.HTMX(http.MethodGet, "/library?search=nothing-like-this", "library-results", nil); !strings.Contains(r.Text(".table-empty"), "No shared audience matches") {
		t.Errorf("no-match answer = %q", r.Text("tbody"))
	}

	// Sorting by name ascending, then by size descending.
	byName := admin.Get("/library?sort=name&pageSize=50")
	var names []string
	byName.Doc.Find(`[data-testid="segment-row"] .cell-title`).Each(func(_ int, s *goquery.Selection) { names = append(names, s.Text()) })
	if !slices.IsSorted(names) || len(names) != 12 {
		t.Errorf("sorted by name: %v", names)
	}
	if href, _ := byName.Doc.Find(`th[aria-sort="ascending"] a`).Attr("href"); !strings.Contains(href, "sort=name") || !strings.Contains(href, "desc=1") {
		t.Errorf("the name header does not flip the sort: %q", href)
	}
	if _, err := f.lib.AddMembers(context.Background(), created[4].SID, library.Slice([]string{ecid(1), ecid(2), ecid(3)})); err != nil {
		t.Fatal(err)
	}
	if _, err := f.lib.AddMembers(context.Background(), created[7].SID, library.Slice([]string{ecid(1)})); err != nil {
		t.Fatal(err)
	}
	bySize := admin.Get("/library?sort=size&desc=1&pageSize=50")
	if got := sids(bySize.Doc.Find(`[data-testid="segment-row"]`)); len(got) != 12 || got[0] != created[4].SID || got[1] != created[7].SID {
		t.Errorf("sorted by size: %v", got)
	}
	if got := bySize.Text(`[data-testid="segment-row"] [data-testid="segment-size"]`); got != "3" {
		t.Errorf("largest size shown as %q", got)
	}
}

func TestLibraryEmptyStateIsHonest(t *testing.T) {
	f := newLibFixture(t)
	admin, _ := f.srv.SignedIn(t, "ada", models.RoleAdmin, models.AudienceLibrary, models.AAMAdmin)
	r := admin.Get("/library")
	if !r.Has(`[data-testid="empty-state"]`) || r.Has(`[data-testid="segments-table"]`) || !r.Has(`[data-testid="empty-new-segment"]`) {
		t.Errorf("empty library: empty state %v, table %v", r.Has(`[data-testid="empty-state"]`), r.Has(`[data-testid="segments-table"]`))
	}
	reader, _ := f.srv.SignedIn(t, "rita", models.RoleMarketer, models.AudienceLibrary)
	if r := reader.Get("/library"); !r.Has(`[data-testid="empty-state"]`) || r.Has(`[data-testid="empty-new-segment"]`) {
		t.Error("a reader is offered to create a segment")
	}
}

func TestLibrarySegmentPageShowsSizeHistoryAndSample(t *testing.T) {
	f := newLibFixture(t)
	seg := f.segment(t, library.SegmentInput{Name: "Cart abandoners", Description: "Left items in the cart.", IntegrationCode: "cart-7d", Source: "Analytics"})
	ids := make([]string, 60)
	for i := range ids {
		ids[i] = ecid(1000 - i) // stored in identifier order whatever the order sent
	}
	f.srv.Clock.Advance(time.Hour)
	if _, err := f.lib.AddMembers(context.Background(), seg.SID, library.Slice(ids)); err != nil {
		t.Fatal(err)
	}
	f.srv.Clock.Advance(time.Hour)
	if _, err := f.lib.RemoveMembers(context.Background(), seg.SID, library.Slice(ids[:5])); err != nil {
		t.Fatal(err)
	}
	reader, _ := f.srv.SignedIn(t, "rita", models.RoleMarketer, models.AudienceLibrary)
	r := reader.Get(segPath(seg))
	if r.Status != http.StatusOK {
		t.Fatalf("segment page = %d", r.Status)
	}
	want := map[string]string{"segment-sid": strconv.FormatInt(seg.SID, 10), "segment-name": "Cart abandoners", "segment-size": "55",
		"segment-dpid": strconv.FormatInt(f.cookie.ID, 10), "segment-idtype": "Visitor ID (COOKIE)", "segment-description": "Left items in the cart."}
	for id, w := range want {
		if got := r.Text(`[data-testid="` + id + `"]`); got != w {
			t.Errorf("%s = %q, want %q", id, got, w)
		}
	}
	if !strings.Contains(r.Text(`[data-testid="segment-datasource"]`), "Web visitors") {
		t.Errorf("data source = %q", r.Text(`[data-testid="segment-datasource"]`))
	}
	sample := r.Doc.Find(`[data-testid="sample-member"]`)
	if sample.Length() != 50 || strings.TrimSpace(sample.First().Text()) != ecid(941) || strings.TrimSpace(sample.Last().Text()) != ecid(990) {
		t.Errorf("sample: %d members from %q to %q", sample.Length(), sample.First().Text(), sample.Last().Text())
	}
	if !r.Has(`svg[data-testid="size-chart"] polyline.chart-line`) || r.Doc.Find(`svg .chart-dot`).Length() != 3 {
		t.Errorf("no chart with 3 points: %d dots", r.Doc.Find(`svg .chart-dot`).Length())
	}
	hist := r.Doc.Find(`[data-testid="history-row"]`)
	if hist.Length() != 3 || strings.TrimSpace(hist.Eq(0).Find("td").Eq(1).Text()) != "55" || strings.TrimSpace(hist.Eq(0).Find("td").Eq(2).Text()) != "−5" ||
		strings.TrimSpace(hist.Eq(1).Find("td").Eq(2).Text()) != "+60" {
		t.Errorf("history rows = %q", hist.Text())
	}
	if strings.Contains(r.Body, "style=") {
		t.Error("the page has an inline style attribute, which the Content-Security-Policy blocks")
	}
	if r := reader.Get("/library/segments/999999"); r.Status != http.StatusNotFound {
		t.Errorf("missing segment = %d", r.Status)
	}
	if r := reader.Get("/library/segments/abc"); r.Status != http.StatusNotFound {
		t.Errorf("malformed sid = %d", r.Status)
	}
}

func TestLibraryCreateEditDeactivateDelete(t *testing.T) {
	f := newLibFixture(t)
	other := f.segment(t, library.SegmentInput{Name: "Other", IntegrationCode: "taken"})
	admin, _ := f.srv.SignedIn(t, "ada", models.RoleAdmin, models.AudienceLibrary, models.AAMAdmin)
	ctx := context.Background()

	form := admin.Get("/library/segments/new")
	if form.Status != http.StatusOK || form.Doc.Find(`#field-dataSourceId option`).Length() != 3 || form.Doc.Find(`#field-source option`).Length() != 4 {
		t.Fatalf("New segment form = %d, %d data sources", form.Status, form.Doc.Find(`#field-dataSourceId option`).Length())
	}
	if r := admin.Post("/library/segments/new", url.Values{"name": {"  "}, "dataSourceId": {""}}); r.Status != http.StatusUnprocessableEntity ||
		r.Text(`[data-testid="error-name"]`) == "" || r.Text(`[data-testid="error-dataSourceId"]`) == "" {
		t.Errorf("empty form = %d name %q data source %q", r.Status, r.Text(`[data-testid="error-name"]`), r.Text(`[data-testid="error-dataSourceId"]`))
	}
	if r := admin.Post("/library/segments/new", url.Values{"name": {"Dup"}, "dataSourceId": {strconv.FormatInt(f.cookie.ID, 10)}, "integrationCode": {"taken"}}); r.Status != http.StatusConflict ||
		r.Text(`[data-testid="error-integrationCode"]`) == "" {
		t.Errorf("duplicate integration code = %d", r.Status)
	}
	created := admin.Post("/library/segments/new", url.Values{"name": {"Loyalty members"}, "description": {"By CRM ID."}, "integrationCode": {"loyal"},
		"dataSourceId": {strconv.FormatInt(f.declared.ID, 10)}, "source": {"Campaign"}, "status": {library.Active}})
	if created.Status != http.StatusSeeOther || !strings.HasPrefix(created.Location(), "/library/segments/") {
		t.Fatalf("create = %d %q %s", created.Status, created.Location(), created.Text(".field-error"))
	}
	sid, _ := strconv.ParseInt(strings.TrimPrefix(created.Location(), "/library/segments/"), 10, 64)
	seg, err := f.lib.Segment(ctx, sid)
	if err != nil || seg.Name != "Loyalty members" || seg.Author != "ada" || seg.Source != "Campaign" || seg.DataSourceID != f.declared.ID || seg.IntegrationCode != "loyal" {
		t.Fatalf("stored = %+v %v", seg, err)
	}
	page := admin.Get(created.Location())
	if !strings.Contains(page.Text(`[data-testid="flash"]`), "Loyalty members created") || page.Text(`[data-testid="segment-idtype"]`) != "Declared ID (CROSS_DEVICE)" {
		t.Errorf("after create: flash %q", page.Text(`[data-testid="flash"]`))
	}

	// Edit: a conflict is shown on the form, then a good change is saved.
	p := segPath(seg)
	edit := url.Values{"name": {"Loyalty club"}, "description": {"Members by CRM ID."}, "integrationCode": {"taken"}, "source": {"Analytics"}, "status": {library.Active}}
	if r := admin.Post(p, edit); r.Status != http.StatusConflict || r.Text(`[data-testid="error-integrationCode"]`) == "" {
		t.Errorf("edit with a taken code = %d", r.Status)
	}
	edit.Set("integrationCode", "loyal-club")
	if r := admin.Post(p, edit); r.Status != http.StatusSeeOther {
		t.Fatalf("edit = %d %s", r.Status, r.Text(".field-error"))
	}
	seg, _ = f.lib.Segment(ctx, sid)
	if seg.Name != "Loyalty club" || seg.Description != "Members by CRM ID." || seg.IntegrationCode != "loyal-club" || seg.Source != "Analytics" || seg.Author != "ada" {
		t.Errorf("edited = %+v", seg)
	}

	// Deactivate, then activate again.
	if r := admin.Post(p+"/status", url.Values{"status": {library.Inactive}}); r.Status != http.StatusSeeOther {
		t.Fatalf("deactivate = %d", r.Status)
	}
	if seg, _ = f.lib.Segment(ctx, sid); seg.Status != library.Inactive {
		t.Errorf("status = %s", seg.Status)
	}
	page = admin.Get(p)
	if page.Text(`[data-testid="segment-props"] [data-testid="segment-active"]`) != "Inactive" || page.Text(`[data-testid="segment-status-toggle"]`) != "Activate" {
		t.Errorf("inactive page shows %q / %q", page.Text(`[data-testid="segment-active"]`), page.Text(`[data-testid="segment-status-toggle"]`))
	}
	if r := admin.Post(p+"/status", url.Values{"status": {"MAYBE"}}); r.Status != http.StatusUnprocessableEntity {
		t.Errorf("bad status = %d", r.Status)
	}
	if r := admin.Post(p+"/status", url.Values{"status": {library.Active}}); r.Status != http.StatusSeeOther {
		t.Fatalf("activate = %d", r.Status)
	}
	if seg, _ = f.lib.Segment(ctx, sid); seg.Status != library.Active || seg.Name != "Loyalty club" {
		t.Errorf("after activate = %+v", seg)
	}

	// Delete asks first (data-confirm), then removes the segment only.
	if confirm, _ := page.Doc.Find(`form[action$="/delete"]`).Attr("data-confirm"); !strings.Contains(confirm, "Delete the segment Loyalty club") {
		t.Errorf("delete confirm = %q", confirm)
	}
	if r := admin.Post(p+"/delete", nil); r.Status != http.StatusSeeOther || r.Location() != "/library" {
		t.Fatalf("delete = %d %q", r.Status, r.Location())
	}
	if _, err := f.lib.Segment(ctx, sid); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("deleted segment still there: %v", err)
	}
	if _, err := f.lib.Segment(ctx, other.SID); err != nil {
		t.Errorf("the other segment went too: %v", err)
	}
	if r := admin.Get("/library"); !strings.Contains(r.Doc.Find(`[data-testid="flash"]`).Text(), "Loyalty club deleted") {
		t.Errorf("delete flash = %q", r.Doc.Find(`[data-testid="flash"]`).Text())
	}
}

// reportErrors maps each rejected line of a member report to its reason.
func reportErrors(r *webtest.Response) map[string]string {
	out := map[string]string{}
	r.Doc.Find(`[data-testid="report-error"]`).Each(func(_ int, s *goquery.Selection) {
		out[strings.TrimSpace(s.Find("td").First().Text())] = s.Find("td").Eq(1).Text()
	})
	return out
}

func TestLibraryMemberChangesReportEveryLine(t *testing.T) {
	f := newLibFixture(t)
	seg := f.segment(t, library.SegmentInput{Name: "Visitors"})
	p := segPath(seg)
	admin, _ := f.srv.SignedIn(t, "ada", models.RoleAdmin, models.AudienceLibrary, models.AAMAdmin)
	admin.Get(p)

	// Pasted, added: blank lines count, so line numbers match the text.
	text := strings.Join([]string{ecid(5), "not-an-id", "", ecid(1), "123"}, "\n")
	r := admin.Post(p+"/members", url.Values{"change": {"add"}, "members": {text}})
	if r.Status != http.StatusOK || !r.Has(`[data-testid="member-report"]`) {
		t.Fatalf("paste = %d %s", r.Status, r.Text(".field-error"))
	}
	if r.Text(`[data-testid="report-accepted"]`) != "2" || r.Text(`[data-testid="report-rejected"]`) != "2" || r.Text(`[data-testid="report-size"]`) != "2" {
		t.Errorf("paste report: %q", r.Text(`[data-testid="member-report"]`))
	}
	rejected := reportErrors(r)
	if len(rejected) != 2 || !strings.Contains(rejected["2"], "visitor ID") || !strings.Contains(rejected["5"], "38 digits") {
		t.Errorf("paste rejections = %v", rejected)
	}
	if r.Text(`[data-testid="segment-size"]`) != "2" {
		t.Errorf("the page does not show the new size: %q", r.Text(`[data-testid="segment-size"]`))
	}

	// A .txt file, added (one already there), CRLF lines.
	r = admin.Upload(p+"/members/upload", "file", "more.txt", []byte(ecid(9)+"\r\n"+ecid(5)+"\r\n"), map[string]string{"change": "add"})
	if r.Status != http.StatusOK || r.Text(`[data-testid="report-size"]`) != "3" || r.Text(`[data-testid="report-rejected"]`) != "0" ||
		!strings.Contains(r.Text(`[data-testid="report-summary"]`), "more.txt") {
		t.Fatalf("upload add = %d %q %s", r.Status, r.Text(`[data-testid="member-report"]`), r.Text(`[data-testid="error-members-file"]`))
	}
	// A .csv file, removed by its first column; its header is reported.
	r = admin.Upload(p+"/members/upload", "file", "gone.csv", []byte("visitorId,note\n\""+ecid(5)+"\",left\n"), map[string]string{"change": "remove"})
	if r.Status != http.StatusOK || r.Text(`[data-testid="report-accepted"]`) != "1" || r.Text(`[data-testid="report-size"]`) != "2" {
		t.Fatalf("upload remove = %d %q", r.Status, r.Text(`[data-testid="member-report"]`))
	}
	if rejected := reportErrors(r); len(rejected) != 1 || rejected["1"] == "" {
		t.Errorf("csv rejections = %v", rejected)
	}
	if got := f.members(t, seg.SID); !slices.Equal(got, []string{ecid(1), ecid(9)}) {
		t.Errorf("members after remove = %v", got)
	}
	// Replaced: only the good lines of the file stay.
	r = admin.Upload(p+"/members/upload", "file", "all.txt", []byte(ecid(7)+"\n"+ecid(8)+"\nbad\n"), map[string]string{"change": "replace"})
	if r.Status != http.StatusOK || r.Text(`[data-testid="report-size"]`) != "2" || reportErrors(r)["3"] == "" {
		t.Fatalf("upload replace = %d %q", r.Status, r.Text(`[data-testid="member-report"]`))
	}
	if got := f.members(t, seg.SID); !slices.Equal(got, []string{ecid(7), ecid(8)}) {
		t.Errorf("members after replace = %v", got)
	}

	// Declared IDs refuse ":"; the reason names it.
	crm := f.segment(t, library.SegmentInput{Name: "CRM", DataSourceID: f.declared.ID})
	r = admin.Post(segPath(crm)+"/members", url.Values{"change": {"replace"}, "members": {"C:1\nC-2\n"}})
	if r.Status != http.StatusOK || r.Text(`[data-testid="report-size"]`) != "1" || !strings.Contains(reportErrors(r)["1"], ":") {
		t.Errorf("declared IDs = %d %v", r.Status, reportErrors(r))
	}

	// Bad requests change nothing and say why.
	bad := []struct {
		name string
		r    *webtest.Response
		sel  string
	}{
		{"empty text", admin.Post(p+"/members", url.Values{"change": {"add"}, "members": {" \n "}}), "error-members"},
		{"no change", admin.Post(p+"/members", url.Values{"members": {ecid(3)}}), "error-members"},
		{"file without change", admin.Upload(p+"/members/upload", "file", "x.txt", []byte(ecid(3)+"\n"), nil), "error-members-file"},
		{"pdf", admin.Upload(p+"/members/upload", "file", "x.pdf", []byte(ecid(3)+"\n"), map[string]string{"change": "add"}), "error-members-file"},
		{"empty file", admin.Upload(p+"/members/upload", "file", "x.txt", nil, map[string]string{"change": "replace"}), "error-members-file"},
	}
	for _, b := range bad {
		if b.r.Status != http.StatusUnprocessableEntity || b.r.Text(`[data-testid="`+b.sel+`"]`) == "" {
			t.Errorf("%s = %d %q", b.name, b.r.Status, b.r.Text(".field-error"))
		}
	}
	if got := f.members(t, seg.SID); !slices.Equal(got, []string{ecid(7), ecid(8)}) {
		t.Errorf("refused changes changed the members: %v", got)
	}
}

func TestLibraryPickerListsAndCreatesForExport(t *testing.T) {
	f := newLibFixture(t)
	ctx := context.Background()
	var visitors []library.Segment
	for i := range 5 {
		visitors = append(visitors, f.segment(t, library.SegmentInput{Name: fmt.Sprintf("Visitors %d", i)}))
	}
	crm := f.segment(t, library.SegmentInput{Name: "CRM members", DataSourceID: f.declared.ID})
	rita, _ := f.srv.SignedIn(t, "rita", models.RoleMarketer, models.AudienceLibrary)

	// A browser that opens the picker's address goes to the segments page.
	if r := rita.Get("/library/picker?mode=import&search=vis"); r.Status != http.StatusSeeOther || r.Location() != "/library?search=vis" {
		t.Errorf("plain GET of the picker = %d %q", r.Status, r.Location())
	}
	imp := rita.HTMX(http.MethodGet, "/library/picker?mode=import&pageSize=4", "picker-dialog", nil)
	if imp.Status != http.StatusOK || imp.Has(`[data-testid="picker-create"]`) || imp.Has("html") && imp.Has(".actionbar") {
		t.Fatalf("import picker = %d", imp.Status)
	}
	if got := sids(imp.Doc.Find(`[data-testid="picker-row"]`)); !slices.Equal(got, []int64{crm.SID, visitors[4].SID, visitors[3].SID, visitors[2].SID}) {
		t.Errorf("picker rows = %v", got)
	}
	if imp.Doc.Find(`[data-testid="picker-confirm"][disabled]`).Length() != 1 || imp.Text(`#picker-title`) != "Select a shared audience" {
		t.Error("Confirm is enabled before a selection, or the title is missing")
	}
	box := imp.Doc.Find(`[data-testid="picker-check"]`).First()
	if v, _ := box.Attr("data-name"); v != "CRM members" {
		t.Errorf("checkbox data-name = %q", v)
	}
	if v, _ := box.Attr("data-data-source-id"); v != strconv.FormatInt(f.declared.ID, 10) {
		t.Errorf("checkbox data-data-source-id = %q", v)
	}
	if id, _ := box.Attr("id"); imp.Doc.Find(`label[for="`+id+`"]`).Text() != "CRM members" {
		t.Error("the checkbox is not labelled by the segment's name")
	}
	more, _ := imp.Doc.Find(`[data-testid="load-more"]`).Attr("hx-get")
	next := rita.HTMX(http.MethodGet, more, "picker-more", nil).TableFragment()
	if got := sids(next.Find(`[data-testid="picker-row"]`)); !slices.Equal(got, []int64{visitors[1].SID, visitors[0].SID}) {
		t.Errorf("picker load more = %v (from %q)", got, more)
	}
	if got := strings.TrimSpace(next.Find(`[data-testid="shown-count"]`).Text()); got != "Showing 6 of 6" {
		t.Errorf("picker count = %q", got)
	}
	search := rita.HTMX(http.MethodGet, "/library/picker?mode=import&search=crm", "picker-results", nil)
	if got := sids(search.Doc.Find(`[data-testid="picker-row"]`)); !slices.Equal(got, []int64{crm.SID}) || search.Has(`[data-testid="picker"]`) {
		t.Errorf("picker search = %v", got)
	}
	limited := rita.HTMX(http.MethodGet, "/library/picker?mode=import&dataSource="+strconv.FormatInt(f.declared.ID, 10), "picker-dialog", nil)
	if got := sids(limited.Doc.Find(`[data-testid="picker-row"]`)); !slices.Equal(got, []int64{crm.SID}) ||
		!strings.Contains(limited.Text(`[data-testid="picker-datasource"]`), "CRM declared IDs") {
		t.Errorf("picker for one data source = %v %q", got, limited.Text(`[data-testid="picker-datasource"]`))
	}
	if r := rita.HTMX(http.MethodGet, "/library/picker?mode=import&dataSource=x", "picker-dialog", nil); r.Status != http.StatusUnprocessableEntity {
		t.Errorf("malformed dataSource = %d", r.Status)
	}

	// Export mode: Segment name and Create.
	exp := rita.HTMX(http.MethodGet, "/library/picker?mode=export", "picker-dialog", nil)
	if !exp.Has(`[data-testid="picker-create"] #picker-segment-name`) || !strings.Contains(exp.Text(`label[for="picker-segment-name"]`), "Segment name") {
		t.Fatal("export picker has no Segment name")
	}
	if r := rita.HTMX(http.MethodPost, "/library/picker/segments", "picker-results", url.Values{"name": {"  "}, "mode": {"export"}}); r.Status != http.StatusUnprocessableEntity ||
		r.Header.Get("HX-Retarget") != "#picker-create" || r.Text(`[data-testid="picker-name-error"]`) == "" {
		t.Errorf("create without a name = %d %q %q", r.Status, r.Header.Get("HX-Retarget"), r.Text(`[data-testid="picker-name-error"]`))
	}
	r := rita.HTMX(http.MethodPost, "/library/picker/segments", "picker-results", url.Values{"name": {"Spring export"}, "mode": {"export"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create = %d %s", r.Status, r.Body)
	}
	found, err := f.lib.Segments(ctx, library.Query{Search: "Spring export"})
	if err != nil || found.Total != 1 {
		t.Fatalf("created segment: %+v %v", found, err)
	}
	seg := found.List[0]
	if !seg.Collecting || seg.Source != "Campaign" || seg.Author != "rita" || seg.DataSourceID != f.cookie.ID || seg.Status != library.Active || seg.Size != 0 {
		t.Errorf("created = %+v (want collecting, Campaign, rita, the first COOKIE data source %d)", seg, f.cookie.ID)
	}
	row := r.Doc.Find(`[data-testid="picker-row"]`).First()
	if v, _ := row.Attr("data-sid"); v != strconv.FormatInt(seg.SID, 10) {
		t.Errorf("first row is %q, not the new segment", v)
	}
	if _, checked := row.Find(`[data-testid="picker-check"]`).Attr("checked"); !checked || strings.TrimSpace(row.Find(`[data-testid="segment-size"]`).Text()) != "Collecting data" {
		t.Errorf("new row: checked %v, size %q", checked, row.Find(`[data-testid="segment-size"]`).Text())
	}
	if oob, _ := r.Doc.Find(`#picker-create`).Attr("hx-swap-oob"); oob != "true" || !strings.Contains(r.Text(`[data-testid="picker-notice"]`), "Spring export created") {
		t.Errorf("the Create form is not reset: oob %q notice %q", oob, r.Text(`[data-testid="picker-notice"]`))
	}
	if v, _ := r.Doc.Find(`#picker-segment-name`).Attr("value"); v != "" {
		t.Errorf("the name stays in the form: %q", v)
	}
	// With a data source, the segment goes there.
	r = rita.HTMX(http.MethodPost, "/library/picker/segments", "picker-results", url.Values{"name": {"CRM export"}, "mode": {"export"},
		"dataSource": {strconv.FormatInt(f.declared.ID, 10)}})
	found, _ = f.lib.Segments(ctx, library.Query{Search: "CRM export"})
	if r.Status != http.StatusCreated || found.Total != 1 || found.List[0].DataSourceID != f.declared.ID {
		t.Errorf("create in a data source = %d %+v", r.Status, found.List)
	}
	if got := sids(r.Doc.Find(`[data-testid="picker-row"]`)); len(got) != 2 || got[0] != found.List[0].SID {
		t.Errorf("rows after a create in one data source = %v", got)
	}
	if r := rita.HTMX(http.MethodPost, "/library/picker/segments", "picker-results", url.Values{"name": {"Nowhere"}, "dataSource": {"999999"}}); r.Status != http.StatusUnprocessableEntity &&
		r.Status != http.StatusNotFound {
		t.Errorf("create in a missing data source = %d", r.Status)
	}
}

func TestLibraryEscapesSegmentNames(t *testing.T) {
	f := newLibFixture(t)
	name := `<script>alert("name")</script>`
	desc := `<img src=x onerror=alert(1)> & "quotes"`
	seg := f.segment(t, library.SegmentInput{Name: name, Description: desc})
	admin, _ := f.srv.SignedIn(t, "ada", models.RoleAdmin, models.AudienceLibrary, models.AAMAdmin)
	pages := map[string]*webtest.Response{
		"list":    admin.Get("/library"),
		"segment": admin.Get(segPath(seg)),
		"picker":  admin.HTMX(http.MethodGet, "/library/picker?mode=export", "picker-dialog", nil),
	}
	for what, r := range pages {
		if r.Status != http.StatusOK {
			t.Fatalf("%s = %d", what, r.Status)
		}
		if strings.Contains(r.Body, "<script>alert") || strings.Contains(r.Body, "<img src=x") {
			t.Errorf("%s renders the name or description as markup", what)
		}
		if !strings.Contains(r.Doc.Text(), name) || !strings.Contains(r.Doc.Text(), `<img src=x onerror=alert(1)>`) {
			t.Errorf("%s does not show the name as text", what)
		}
	}
	if v, _ := pages["picker"].Doc.Find(`[data-testid="picker-check"]`).Attr("data-name"); v != name {
		t.Errorf("picker data-name = %q", v)
	}
	if v, _ := pages["picker"].Doc.Find(`[data-testid="picker-check"]`).Attr("data-description"); v != desc {
		t.Errorf("picker data-description = %q", v)
	}
	// A name typed into Create comes back escaped too.
	r := admin.HTMX(http.MethodPost, "/library/picker/segments", "picker-results", url.Values{"name": {`<b onmouseover=alert(1)>x</b>`}, "mode": {"export"}})
	if r.Status != http.StatusCreated || strings.Contains(r.Body, "<b onmouseover") {
		t.Errorf("created name = %d, raw markup %v", r.Status, strings.Contains(r.Body, "<b onmouseover"))
	}
}

// notEmbedded hides the embedded library behind the interface, the way a
// remote library looks to the console: it keeps no size history.
type notEmbedded struct{ library.Library }

func TestLibrarySegmentPageWithoutSizeHistory(t *testing.T) {
	store := dbtest.New(t)
	ctx := context.Background()
	if err := worker.Migrate(ctx, store); err != nil {
		t.Fatal(err)
	}
	lib := library.NewEmbedded(store)
	ds, err := lib.CreateDataSource(ctx, library.DataSource{Name: "Web visitors", IDType: library.Cookie})
	if err != nil {
		t.Fatal(err)
	}
	seg, err := lib.CreateSegment(ctx, library.SegmentInput{Name: "Remote-looking", DataSourceID: ds.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateOperator(ctx, models.SystemActor("test"), models.OperatorInput{Login: "rita", Role: "marketer",
		Password: webtest.Password, Entitlements: []string{string(models.AudienceLibrary)}}); err != nil {
		t.Fatal(err)
	}
	e, err := web.New(web.Options{Store: store, SessionSecret: []byte("0123456789abcdef0123456789abcdef-test"), Library: notEmbedded{lib}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar}
	get := func(path string) *goquery.Document {
		t.Helper()
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		doc, err := goquery.NewDocumentFromReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return doc
	}
	token, _ := get("/login").Find(`input[name="_csrf"]`).Attr("value")
	resp, err := client.PostForm(srv.URL+"/login", url.Values{"_csrf": {token}, "login": {"rita"}, "password": {webtest.Password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	page := get(segPath(seg))
	if page.Find(`[data-testid="history-unavailable"]`).Length() != 1 || page.Find(`svg[data-testid="size-chart"]`).Length() != 0 {
		t.Errorf("segment page of a non-embedded library: %q", page.Find(`[data-testid="size-history"]`).Text())
	}
	if got := strings.TrimSpace(page.Find(`[data-testid="segment-name"]`).Text()); got != "Remote-looking" {
		t.Errorf("segment name = %q", got)
	}
}
