package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

// insertSharedList adds a list synchronised with a shared audience the way
// its import job would, through the connection pool.
func insertSharedList(t *testing.T, srv *webtest.Server, label, name string) int64 {
	t.Helper()
	db, err := srv.Store.SQL()
	if err != nil {
		t.Fatal(err)
	}
	now := srv.Clock.Now()
	if _, err := db.Exec(`INSERT INTO lists (label, internal_name, type, description, created_at, updated_at)
		VALUES ($1, $2, 'sharedAudience', 'Synchronised with a segment', $3, $3)`, label, name, now); err != nil {
		t.Fatalf("insert list %s: %v", name, err)
	}
	var id int64
	if err := db.QueryRow(`SELECT id FROM lists WHERE internal_name = $1`, name).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// memberCount counts a list's members in the database itself.
func memberCount(t *testing.T, srv *webtest.Server, listID int64) int64 {
	t.Helper()
	db, err := srv.Store.SQL()
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := db.QueryRow(`SELECT COUNT(*) FROM list_members WHERE list_id = $1`, listID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

var testActor = models.SystemActor("test")

// catalogue is a list as the Lists test knows it.
type catalogue struct {
	id                       int64
	label, name, kind, descr string
	size                     int64
	order                    int // creation order, which is modification order
}

func TestListsTableColumnsSearchFilterSortAndPages(t *testing.T) {
	srv := webtest.Start(t)
	ctx := context.Background()
	var people []int64
	for i := range 4 {
		r, err := srv.Store.CreateRecipient(ctx, models.RecipientInput{Email: fmt.Sprintf("p%d@example.com", i)})
		if err != nil {
			t.Fatal(err)
		}
		people = append(people, r.ID)
	}
	var lists []catalogue
	const regular = 27
	for i := range regular {
		in := models.ListInput{Label: fmt.Sprintf("list%02d", (i*5)%regular), Description: fmt.Sprintf("about topic%d", i%3)}
		l, err := srv.Store.CreateList(ctx, testActor, in)
		if err != nil {
			t.Fatal(err)
		}
		size := int64(i % 5)
		if size > 0 {
			if _, err := srv.Store.AddListMembers(ctx, testActor, l.ID, people[:size]); err != nil {
				t.Fatal(err)
			}
		}
		lists = append(lists, catalogue{id: l.ID, label: in.Label, name: l.InternalName, kind: "List", descr: in.Description, size: size, order: len(lists)})
		srv.Clock.Advance(time.Minute)
	}
	for i := range 4 {
		label, name := fmt.Sprintf("aud%02d", i), fmt.Sprintf("SHR%d", i)
		lists = append(lists, catalogue{id: insertSharedList(t, srv, label, name), label: label, name: name, kind: "Shared audience",
			descr: "Synchronised with a segment", order: len(lists)})
		srv.Clock.Advance(time.Minute)
	}
	c, _ := srv.SignedIn(t, "mia", models.RoleMarketer)

	page := c.Get("/lists")
	table := page.Doc.Find(`[data-testid="lists-table"]`)
	var headers []string
	table.Find("thead th").Each(func(_ int, th *goquery.Selection) { headers = append(headers, strings.TrimSpace(th.Text())) })
	if !slices.Equal(headers, []string{"Label", "Internal name", "Type", "Size", "Modified", "Last sync"}) {
		t.Fatalf("columns = %q", headers)
	}
	if !page.Has(`[data-testid="new-list"]`) || !page.Has(`[data-testid="import-list"]`) {
		t.Errorf("New menu = %q", page.Text(`[data-testid="new-menu"]`))
	}
	if got := page.Text(`[data-testid="pager"] .pager-info`); got != "1–25 of 31 · page 1 of 2" {
		t.Errorf("pager = %q", got)
	}
	// Every row of the catalogue shows its type and an independently
	// counted size.
	byName := map[string]catalogue{}
	for _, l := range lists {
		byName[l.name] = l
	}
	all := c.Get("/lists?pageSize=100")
	all.Doc.Find(`[data-testid="lists-table"] tbody tr`).Each(func(_ int, tr *goquery.Selection) {
		cells := tr.Find("td")
		name := strings.TrimSpace(cells.Eq(1).Text())
		l, ok := byName[name]
		if !ok {
			t.Errorf("unknown row %q", tr.Text())
			return
		}
		if testid, _ := tr.Attr("data-testid"); testid != "list-"+name {
			t.Errorf("row test id %q", testid)
		}
		if got := []string{strings.TrimSpace(cells.Eq(0).Text()), strings.TrimSpace(cells.Eq(2).Text()), strings.TrimSpace(cells.Eq(3).Text())}; !slices.Equal(got,
			[]string{l.label, l.kind, strconv.FormatInt(memberCount(t, srv, l.id), 10)}) || memberCount(t, srv, l.id) != l.size {
			t.Errorf("row %s = %q, want label %s, type %s, size %d", name, got, l.label, l.kind, l.size)
		}
		if href, _ := cells.Eq(0).Find("a").Attr("href"); href != fmt.Sprintf("/lists/%d", l.id) {
			t.Errorf("row %s links to %q", name, href)
		}
		delete(byName, name)
	})
	if len(byName) != 0 {
		t.Errorf("rows missing: %v", byName)
	}

	names := func(r *webtest.Response) []string { return column(r.Doc.Find(`[data-testid="lists-table"]`), 1) }
	expect := func(keep func(catalogue) bool, key func(catalogue) string, desc bool) []string {
		var out []catalogue
		for _, l := range lists {
			if keep == nil || keep(l) {
				out = append(out, l)
			}
		}
		sort.SliceStable(out, func(i, j int) bool {
			a, b := key(out[i]), key(out[j])
			if a == b {
				return (out[i].id < out[j].id) != desc
			}
			return (a < b) != desc
		})
		var ns []string
		for _, l := range out {
			ns = append(ns, l.name)
		}
		return ns
	}
	columns := []struct {
		key, label string
		value      func(catalogue) string
	}{
		{"label", "Label", func(l catalogue) string { return l.label }},
		{"internalName", "Internal name", func(l catalogue) string { return l.name }},
		// "regular" sorts before "sharedAudience".
		{"type", "Type", func(l catalogue) string { return l.kind }},
		{"size", "Size", func(l catalogue) string { return fmt.Sprintf("%06d", l.size) }},
		{"modified", "Modified", func(l catalogue) string { return fmt.Sprintf("%06d", l.order) }},
	}
	for _, col := range columns {
		for _, desc := range []bool{false, true} {
			path := "/lists?pageSize=100&sort=" + col.key
			state := "ascending"
			if desc {
				path, state = path+"&desc=1", "descending"
			}
			r := c.Get(path)
			if got, want := names(r), expect(nil, col.value, desc); !slices.Equal(got, want) {
				t.Errorf("%s:\n got %v\nwant %v", path, got, want)
			}
			sorts := ariaSorts(r.Doc.Find(`[data-testid="lists-table"]`))
			if len(sorts) != 5 || sorts[col.label] != state {
				t.Errorf("%s: aria-sort = %v", path, sorts)
			}
			for label, v := range sorts {
				if want := map[bool]string{true: state, false: "none"}[label == col.label]; v != want {
					t.Errorf("%s: %s has aria-sort %q", path, label, v)
				}
			}
		}
	}
	// By default the most recently modified come first.
	if got, want := names(page), expect(nil, columns[4].value, true)[:25]; !slices.Equal(got, want) {
		t.Errorf("default order = %v, want %v", got, want)
	}
	next, _ := page.Doc.Find(`[data-testid="pager-next"]`).Attr("href")
	if got, want := names(c.Get(next)), expect(nil, columns[4].value, true)[25:]; !slices.Equal(got, want) {
		t.Errorf("second page = %v, want %v", got, want)
	}

	filters := []struct {
		query string
		keep  func(catalogue) bool
	}{
		{"search=LIST1", func(l catalogue) bool { return strings.Contains(l.label, "list1") }},
		{"search=shr", func(l catalogue) bool { return strings.HasPrefix(l.name, "SHR") }},
		{"search=topic2", func(l catalogue) bool { return strings.Contains(l.descr, "topic2") }},
		{"type=sharedAudience", func(l catalogue) bool { return l.kind == "Shared audience" }},
		{"type=regular&search=1", func(l catalogue) bool {
			return l.kind == "List" && (strings.Contains(l.label, "1") || strings.Contains(l.name, "1") || strings.Contains(l.descr, "1"))
		}},
		{"search=nothing-like-this", func(catalogue) bool { return false }},
	}
	for _, f := range filters {
		r := c.Get("/lists?pageSize=100&sort=internalName&" + f.query)
		if got, want := names(r), expect(f.keep, columns[1].value, false); !slices.Equal(got, want) {
			t.Errorf("%s = %v, want %v", f.query, got, want)
		}
		if strings.Contains(f.query, "type=") {
			want := strings.TrimPrefix(strings.Split(f.query, "&")[0], "type=")
			if v, _ := r.Doc.Find(`#filter-type option[selected]`).Attr("value"); v != want {
				t.Errorf("%s: type filter shows %q", f.query, v)
			}
		}
	}
	// The HTMX partial is the table alone, and keeps the filter in its links.
	h := c.HTMX(http.MethodGet, "/lists?type=sharedAudience&sort=label&desc=1", "list-results", nil)
	if h.Status != 200 || strings.Contains(h.Body, "<html") || h.Has(`form[role="search"]`) {
		t.Fatalf("partial = %d %s", h.Status, h.Body)
	}
	if got := names(h); !slices.Equal(got, []string{"SHR3", "SHR2", "SHR1", "SHR0"}) {
		t.Errorf("partial rows = %v", got)
	}
	if href, _ := h.Doc.Find(`th[aria-sort="descending"] a`).Attr("href"); !strings.Contains(href, "type=sharedAudience") {
		t.Errorf("sort link drops the filter: %q", href)
	}
	if empty := c.Get("/lists?search=nothing-like-this"); !strings.Contains(empty.Text(".table-empty"), "No list matches") {
		t.Errorf("empty = %q", empty.Text("tbody"))
	}
}

func TestNewListFormProposesANameAndValidates(t *testing.T) {
	srv := webtest.Start(t)
	c, _ := srv.SignedIn(t, "mia", models.RoleMarketer)
	ctx := context.Background()
	proposed := func() string {
		t.Helper()
		r := c.Get("/lists/new")
		if r.Status != 200 || !r.Has(`[data-testid="list-form"]`) {
			t.Fatalf("form = %d", r.Status)
		}
		v, _ := r.Doc.Find(`#field-internalName`).Attr("value")
		return v
	}
	if got := proposed(); got != "LST1" {
		t.Fatalf("first proposal = %q", got)
	}
	// The New menu leads there.
	if href, _ := c.Get("/lists").Doc.Find(`[data-testid="new-list"]`).Attr("href"); href != "/lists/new" {
		t.Errorf("New list… = %q", href)
	}
	cases := []struct {
		name  string
		form  url.Values
		field string
	}{
		{"empty label", url.Values{"label": {"  "}, "internalName": {"LST1"}}, "label"},
		{"label too long", url.Values{"label": {strings.Repeat("L", 129)}, "internalName": {"LST1"}}, "label"},
		{"internal name with a space", url.Values{"label": {"Spring"}, "internalName": {"LST 1"}}, "internalName"},
		{"internal name starting with a digit", url.Values{"label": {"Spring"}, "internalName": {"1LST"}}, "internalName"},
		{"internal name with punctuation", url.Values{"label": {"Spring"}, "internalName": {"LST-1;"}}, "internalName"},
		{"description too long", url.Values{"label": {"Spring"}, "description": {strings.Repeat("d", 2001)}}, "description"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.Post("/lists", tc.form)
			if r.Status != http.StatusUnprocessableEntity || !r.Has(`[data-testid="list-form"]`) {
				t.Fatalf("status %d", r.Status)
			}
			errs := r.Doc.Find(`.field-error`)
			if errs.Length() != 1 || (tc.field != "description" && r.Text(`[data-testid="error-`+tc.field+`"]`) == "") {
				t.Errorf("errors shown: %q", errs.Text())
			}
			if v, _ := r.Doc.Find(`#field-internalName`).Attr("value"); v != tc.form.Get("internalName") {
				t.Errorf("typed internal name not kept: %q", v)
			}
			if page, _ := srv.Store.ListLists(ctx, models.ListQuery{}); page.Total != 0 {
				t.Fatalf("a refused form created %d lists", page.Total)
			}
		})
	}
	ok := c.Post("/lists", url.Values{"label": {"Spring sale"}, "internalName": {"LST1"}, "description": {"For the <b>spring</b>"}})
	if ok.Status != http.StatusSeeOther || !strings.HasPrefix(ok.Location(), "/lists/") {
		t.Fatalf("create = %d %q", ok.Status, ok.Text(".field-error"))
	}
	card := c.Get(ok.Location())
	if !strings.Contains(card.Text(`[data-testid="flash"]`), "List Spring sale (LST1) created") {
		t.Errorf("flash = %q", card.Text(".flashes"))
	}
	props := card.Text(`[data-testid="list-props"]`)
	if !strings.Contains(props, "LST1") || !strings.Contains(props, "For the <b>spring</b>") || card.Text(`[data-testid="list-size"]`) != "0" {
		t.Errorf("properties = %q", props)
	}
	if card.Doc.Find("main dl b").Length() != 0 {
		t.Error("the description is not escaped")
	}
	dup := c.Post("/lists", url.Values{"label": {"Another"}, "internalName": {"LST1"}})
	if dup.Status != http.StatusConflict || !strings.Contains(dup.Text(`[data-testid="error-internalName"]`), "already exists") {
		t.Fatalf("duplicate = %d %q", dup.Status, dup.Text(".field-error"))
	}
	// An empty internal name gets the next one; the proposal moves on and
	// skips names taken by hand.
	if got := proposed(); got != "LST2" {
		t.Errorf("second proposal = %q", got)
	}
	if r := c.Post("/lists", url.Values{"label": {"Auto"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("auto name = %d", r.Status)
	}
	if r := c.Post("/lists", url.Values{"label": {"By hand"}, "internalName": {"LST4"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("LST4 = %d", r.Status)
	}
	if got := proposed(); got != "LST5" {
		t.Errorf("proposal after LST4 = %q", got)
	}
	page, _ := srv.Store.ListLists(ctx, models.ListQuery{Sort: "internalName"})
	var got []string
	for _, l := range page.Items {
		got = append(got, l.InternalName)
	}
	if !slices.Equal(got, []string{"LST1", "LST2", "LST4"}) {
		t.Fatalf("lists = %v", got)
	}
}

func memberEmails(r *webtest.Response) []string {
	return column(r.Doc.Find(`[data-testid="members-table"]`), 1)
}

func TestListMembersThroughTheConsole(t *testing.T) {
	srv := webtest.Start(t)
	ctx := context.Background()
	ids := map[string]int64{}
	var emails []string
	for i := range 30 {
		e := fmt.Sprintf("m%02d@example.com", i)
		r, err := srv.Store.CreateRecipient(ctx, models.RecipientInput{Email: e, FirstName: fmt.Sprintf("F%02d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids[e] = r.ID
		emails = append(emails, e)
	}
	l, err := srv.Store.CreateList(ctx, testActor, models.ListInput{Label: "Members"})
	if err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/lists/%d", l.ID)
	c, _ := srv.SignedIn(t, "mia", models.RoleMarketer)
	flash := func() string { t.Helper(); return c.Get(path).Text(`[data-testid="flash"]`) }

	card := c.Get(path)
	if !card.Has(`[data-testid="add-members"]`) || !strings.Contains(card.Text(`[data-testid="members-table"]`), "No member matches") {
		t.Fatal("an empty regular list has no add form or says nothing")
	}
	// Mixed case, commas, semicolons, spaces and line breaks; repeats;
	// addresses nobody has.
	r := c.Post(path+"/members", url.Values{"emails": {"M00@Example.com, m01@example.com\nm02@example.com;nobody@example.com\r\nM00@example.com  Ghost@example.com"}})
	if r.Status != http.StatusSeeOther || r.Location() != path {
		t.Fatalf("add = %d %q", r.Status, r.Location())
	}
	if got := flash(); !strings.Contains(got, "3 recipients added to Members") || !strings.Contains(got, "2 addresses match no recipient (nobody@example.com, ghost@example.com)") ||
		strings.Contains(got, "already") {
		t.Errorf("flash = %q", got)
	}
	c.Post(path+"/members", url.Values{"emails": {"m01@example.com\tm03@example.com"}})
	if got := flash(); !strings.Contains(got, "1 recipients added") || !strings.Contains(got, "1 were already in it") || strings.Contains(got, "match no") {
		t.Errorf("second flash = %q", got)
	}
	// Many unknown addresses: five are named.
	var unknown []string
	for i := range 7 {
		unknown = append(unknown, fmt.Sprintf("u%d@example.com", i))
	}
	c.Post(path+"/members", url.Values{"emails": {strings.Join(unknown, "\n")}})
	if got := flash(); !strings.Contains(got, "7 addresses match no recipient (u0@example.com, u1@example.com, u2@example.com, u3@example.com, u4@example.com, …)") {
		t.Errorf("unknown flash = %q", got)
	}
	for _, bad := range []struct{ emails, problem string }{
		{" \n , ", "enter at least one e-mail address"},
		{strings.Repeat("a@example.com\n", 5001), "at most 5000"},
	} {
		r := c.Post(path+"/members", url.Values{"emails": {bad.emails}})
		if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Text(`[data-testid="error-emails"]`), bad.problem) {
			t.Errorf("%q = %d %q", bad.emails[:min(len(bad.emails), 20)], r.Status, r.Text(`[data-testid="error-emails"]`))
		}
	}
	if n := memberCount(t, srv, l.ID); n != 4 {
		t.Fatalf("members = %d, want 4", n)
	}
	c.Post(path+"/members", url.Values{"emails": {strings.Join(emails, "\n")}})
	if got := flash(); !strings.Contains(got, "26 recipients added") || !strings.Contains(got, "4 were already in it") {
		t.Errorf("adding all = %q", got)
	}

	// Paged and searchable; sizes agree with the database.
	card = c.Get(path)
	if got := card.Text(`[data-testid="list-size"]`); got != "30" || memberCount(t, srv, l.ID) != 30 {
		t.Errorf("size = %s, members %d", got, memberCount(t, srv, l.ID))
	}
	if got := memberEmails(card); !slices.Equal(got, emails[:25]) {
		t.Errorf("first page = %v", got)
	}
	next, _ := card.Doc.Find(`[data-testid="members-form"] [data-testid="pager-next"]`).Attr("href")
	if got := memberEmails(c.Get(next)); !slices.Equal(got, emails[25:]) {
		t.Errorf("second page (%s) = %v", next, got)
	}
	search := c.Get(path + "?search=M2")
	if got := memberEmails(search); !slices.Equal(got, emails[20:30]) {
		t.Errorf("search M2 = %v", got)
	}
	h := c.HTMX(http.MethodGet, path+"?search=f1", "member-results", nil)
	if h.Status != 200 || strings.Contains(h.Body, "<html") || h.Has(`[data-testid="add-members"]`) {
		t.Fatalf("partial = %d", h.Status)
	}
	if got := memberEmails(h); !slices.Equal(got, emails[10:20]) {
		t.Errorf("partial search f1 = %v", got)
	}
	lists := c.Get("/lists")
	if got := lists.Text(`[data-testid="list-` + l.InternalName + `"] td:nth-child(4)`); got != "30" {
		t.Errorf("Lists table size = %q", got)
	}

	// Remove selected.
	var checked []string
	card.Doc.Find(`[data-testid="members-form"] input[name="recipient"]`).Each(func(i int, s *goquery.Selection) {
		if i < 3 {
			v, _ := s.Attr("value")
			checked = append(checked, v)
		}
	})
	if want := []string{strconv.FormatInt(ids["m00@example.com"], 10), strconv.FormatInt(ids["m01@example.com"], 10), strconv.FormatInt(ids["m02@example.com"], 10)}; !slices.Equal(checked, want) {
		t.Fatalf("checkboxes = %v, want %v", checked, want)
	}
	r = c.Post(path+"/members/remove", url.Values{"recipient": checked})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("remove = %d", r.Status)
	}
	card = c.Get(path)
	if got := card.Text(`[data-testid="flash"]`); !strings.Contains(got, "3 recipients removed from Members") {
		t.Errorf("remove flash = %q", got)
	}
	if card.Text(`[data-testid="list-size"]`) != "27" || memberCount(t, srv, l.ID) != 27 || slices.Contains(memberEmails(card), "m00@example.com") {
		t.Errorf("after remove: size %s, members %d", card.Text(`[data-testid="list-size"]`), memberCount(t, srv, l.ID))
	}
	c.Post(path+"/members/remove", nil)
	if got := flash(); !strings.Contains(got, "Select the recipients to remove first") {
		t.Errorf("remove nothing = %q", got)
	}
	if r := c.Post(path+"/members/remove", url.Values{"recipient": {"abc"}}); r.Status != http.StatusUnprocessableEntity {
		t.Errorf("remove abc = %d", r.Status)
	}
	if memberCount(t, srv, l.ID) != 27 {
		t.Fatal("a refused removal removed members")
	}

	// Delete: the list goes, its recipients stay.
	r = c.Post(path+"/delete", nil)
	if r.Status != http.StatusSeeOther || r.Location() != "/lists" {
		t.Fatalf("delete = %d %q", r.Status, r.Location())
	}
	if got := c.Get("/lists").Text(`[data-testid="flash"]`); !strings.Contains(got, "its recipients are kept") {
		t.Errorf("delete flash = %q", got)
	}
	if n, _ := srv.Store.CountRecipients(ctx); n != 30 || memberCount(t, srv, l.ID) != 0 {
		t.Fatalf("after delete: %d recipients, %d members", n, memberCount(t, srv, l.ID))
	}
	if r := c.Get(path); r.Status != http.StatusNotFound {
		t.Errorf("deleted list = %d", r.Status)
	}
	if r := c.Get(fmt.Sprintf("/recipients/%d", ids["m05@example.com"])); r.Has(`[data-testid="recipient-lists"]`) {
		t.Error("the recipient still shows the deleted list")
	}
	for _, p := range []string{"/lists/987654", "/lists/x"} {
		if r := c.Get(p); r.Status != http.StatusNotFound {
			t.Errorf("GET %s = %d", p, r.Status)
		}
	}
}

func TestSharedAudienceListRefusesMemberChanges(t *testing.T) {
	srv := webtest.Start(t)
	ctx := context.Background()
	ana, err := srv.Store.CreateRecipient(ctx, models.RecipientInput{Email: "ana@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	id := insertSharedList(t, srv, "Loyal customers", "LSTAAM")
	path := fmt.Sprintf("/lists/%d", id)
	c, _ := srv.SignedIn(t, "mia", models.RoleMarketer)
	card := c.Get(path)
	if card.Status != 200 || card.Has(`[data-testid="add-members"]`) || card.Has(`input[name="recipient"]`) || card.Has(`[data-testid="remove-members"]`) {
		t.Fatalf("a shared-audience list offers member changes: %d", card.Status)
	}
	if !strings.Contains(card.Text(`[data-testid="list-props"]`), "Shared audience") || !strings.Contains(card.Text(".page-subtitle"), "LSTAAM · Shared audience") {
		t.Errorf("properties = %q", card.Text(`[data-testid="list-props"]`))
	}
	attempts := []struct {
		name, path string
		form       url.Values
	}{
		{"add by e-mail", path + "/members", url.Values{"emails": {"ana@example.com"}}},
		{"remove", path + "/members/remove", url.Values{"recipient": {strconv.FormatInt(ana.ID, 10)}}},
		{"add from the recipient", fmt.Sprintf("/recipients/%d/lists", ana.ID), url.Values{"list": {strconv.FormatInt(id, 10)}}},
	}
	for _, a := range attempts {
		r := c.Post(a.path, a.form)
		if r.Status != http.StatusConflict || !strings.Contains(r.Text(`[data-testid="error-message"]`), "LSTAAM is synchronised with a shared audience") {
			t.Errorf("%s = %d %q", a.name, r.Status, r.Text(`[data-testid="error-message"]`))
		}
	}
	// Through HTMX the page stays and a toast says why.
	h := c.HTMX(http.MethodPost, path+"/members", "member-results", url.Values{"emails": {"ana@example.com"}})
	if h.Status != http.StatusConflict || h.Header.Get("HX-Reswap") != "none" || !strings.Contains(h.Text(".flash-error"), "shared audience") {
		t.Errorf("HTMX add = %d %q", h.Status, h.Body)
	}
	if n := memberCount(t, srv, id); n != 0 {
		t.Fatalf("members = %d", n)
	}
	// The Lists table shows it with its type, and deleting it is allowed.
	if got := c.Get("/lists?type=sharedAudience").Text(`[data-testid="list-LSTAAM"] td:nth-child(3)`); got != "Shared audience" {
		t.Errorf("type column = %q", got)
	}
	if r := c.Post(path+"/delete", nil); r.Status != http.StatusSeeOther {
		t.Errorf("delete = %d", r.Status)
	}
}
