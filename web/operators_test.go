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

	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

func TestMarketersAreRefusedAdministration(t *testing.T) {
	srv := webtest.Start(t)
	mia, _ := srv.SignedIn(t, "mia", models.RoleMarketer, models.AudienceLibrary, models.AAMAdmin)
	target := srv.Operator(t, "theo", models.RoleMarketer)
	id := strconv.FormatInt(target.ID, 10)
	for _, path := range []string{"/admin/operators", "/admin/operators/new", "/admin/operators/" + id, "/admin/audit",
		"/admin/datasources", "/admin/external-accounts"} {
		r := mia.Get(path)
		if r.Status != http.StatusForbidden || !strings.Contains(r.Text(`[data-testid="access-denied"]`), "Administrator") {
			t.Errorf("GET %s = %d", path, r.Status)
		}
	}
	for _, path := range []string{"/admin/operators/" + id + "/entitlements/aam-admin", "/admin/operators/" + id + "/disable",
		"/admin/operators/" + id + "/password", "/admin/operators/" + id, "/admin/operators"} {
		r := mia.Post(path, url.Values{"granted": {"true"}, "password": {"new password!"}, "login": {"x1"}, "role": {"admin"}})
		if r.Status != http.StatusForbidden {
			t.Errorf("POST %s = %d", path, r.Status)
		}
	}
	h := mia.HTMX(http.MethodPost, "/admin/operators/"+id+"/entitlements/aam-admin", "operator-row-"+id, url.Values{"granted": {"true"}})
	if h.Status != http.StatusForbidden || h.Header.Get("HX-Reswap") != "none" || !strings.Contains(h.Text(".flash-error"), "admin role") {
		t.Errorf("HTMX toggle as marketer = %d %q", h.Status, h.Body)
	}
	after, err := srv.Store.OperatorByID(context.Background(), target.ID)
	if err != nil || len(after.Entitlements) != 0 || after.Disabled() {
		t.Fatalf("a refused request changed the operator: %+v %v", after, err)
	}
	page, _ := srv.Store.ListAudit(context.Background(), models.AuditQuery{Action: "entitlement.grant"})
	if page.Total != 0 {
		t.Fatalf("refused requests wrote %d audit records", page.Total)
	}
}

func TestAdminCreatesOperatorThroughTheForm(t *testing.T) {
	srv := webtest.Start(t)
	c, _ := srv.SignedIn(t, "root", models.RoleAdmin)
	form := c.Get("/admin/operators/new")
	if form.Status != 200 || !form.Has(`[data-testid="operator-form"]`) {
		t.Fatalf("form = %d", form.Status)
	}
	bad := c.Post("/admin/operators", url.Values{"login": {"<script>"}, "role": {"root"}, "password": {"short"}, "email": {"nope"}})
	if bad.Status != http.StatusUnprocessableEntity {
		t.Fatalf("invalid form = %d", bad.Status)
	}
	for _, field := range []string{"login", "role", "password", "email"} {
		if bad.Text(`[data-testid="error-`+field+`"]`) == "" {
			t.Errorf("no error shown for %s", field)
		}
	}
	if v, _ := bad.Doc.Find(`#field-login`).Attr("value"); v != "<script>" {
		t.Errorf("typed login not kept: %q", v)
	}
	if v, _ := bad.Doc.Find(`#field-password`).Attr("value"); v != "" {
		t.Error("the password was sent back to the browser")
	}
	if n, _ := srv.Store.CountOperators(context.Background()); n != 1 {
		t.Fatalf("invalid form created an operator (%d)", n)
	}
	xss := `<script>alert("x")</script>`
	ok := c.Post("/admin/operators", url.Values{"login": {"Mia"}, "name": {xss}, "role": {"marketer"},
		"password": {"long enough"}, "entitlements": {"audience-library"}})
	if ok.Status != http.StatusSeeOther || !strings.HasPrefix(ok.Location(), "/admin/operators/") {
		t.Fatalf("create = %d %q %q", ok.Status, ok.Location(), ok.Text(".form-error-summary, .field-error"))
	}
	card := c.Get(ok.Location())
	if !strings.Contains(card.Text(`[data-testid="flash"]`), "Operator mia created") {
		t.Errorf("no confirmation: %q", card.Text(`.flashes`))
	}
	if strings.Contains(card.Body, xss) || !strings.Contains(card.Body, "&lt;script&gt;") {
		t.Error("the name is not escaped on the card")
	}
	list := c.Get("/admin/operators")
	if strings.Contains(list.Body, xss) || list.Text(`[data-testid="operator-mia"] td:nth-child(2)`) != xss {
		t.Errorf("list shows %q", list.Text(`[data-testid="operator-mia"]`))
	}
	dup := c.Post("/admin/operators", url.Values{"login": {"MIA"}, "role": {"marketer"}, "password": {"long enough"}})
	if dup.Status != http.StatusConflict || !strings.Contains(dup.Text(`[data-testid="error-login"]`), "already exists") {
		t.Fatalf("duplicate = %d %q", dup.Status, dup.Text(`[data-testid="error-login"]`))
	}
	mia := srv.Client(t)
	mia.Login("mia", "long enough")
}

func TestEntitlementToggleRefreshesOnlyTheRow(t *testing.T) {
	srv := webtest.Start(t)
	c, _ := srv.SignedIn(t, "root", models.RoleAdmin)
	mia := srv.Operator(t, "mia", models.RoleMarketer)
	rowID := "operator-row-" + strconv.FormatInt(mia.ID, 10)
	path := fmt.Sprintf("/admin/operators/%d/entitlements/aam-admin", mia.ID)
	c.Get("/admin/operators")

	r := c.HTMX(http.MethodPost, path, rowID, url.Values{"granted": {"true"}})
	if r.Status != 200 || strings.Contains(r.Body, "<html") {
		t.Fatalf("toggle = %d, a whole page: %v", r.Status, strings.Contains(r.Body, "<html"))
	}
	rows := r.TableFragment()
	if rows.Find("tr").Length() != 1 || rows.Find("tr#"+rowID).Length() != 1 {
		t.Fatalf("response is not the one row: %s", r.Body)
	}
	if v, _ := rows.Find(`[data-testid="toggle-aam-admin-mia"]`).Attr("aria-checked"); v != "true" {
		t.Fatalf("toggle state = %q", v)
	}
	if !strings.Contains(r.Text(`#toasts[hx-swap-oob] .flash-success`), "Audience Manager administrator granted to mia") {
		t.Fatalf("no toast: %s", r.Body)
	}
	// The card's list refreshes itself the same way.
	r = c.HTMX(http.MethodPost, path, "operator-entitlements", url.Values{"granted": {"false"}})
	if r.Status != 200 || !r.Has("#operator-entitlements") || r.Has("tr") {
		t.Fatalf("card toggle = %d %s", r.Status, r.Body)
	}
	// Without JavaScript the form posts and comes back to the card.
	r = c.Post(path, url.Values{"granted": {"true"}})
	if r.Status != http.StatusSeeOther || r.Location() != fmt.Sprintf("/admin/operators/%d", mia.ID) {
		t.Fatalf("plain post = %d %q", r.Status, r.Location())
	}
	if r := c.Post(path, url.Values{"granted": {"maybe"}}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("granted=maybe = %d", r.Status)
	}
	if r := c.Post(fmt.Sprintf("/admin/operators/%d/entitlements/root", mia.ID), url.Values{"granted": {"true"}}); r.Status != 404 {
		t.Fatalf("unknown entitlement = %d", r.Status)
	}
	got, _ := srv.Store.OperatorByID(context.Background(), mia.ID)
	if !got.Has(models.AAMAdmin) || got.Has(models.AudienceLibrary) {
		t.Fatalf("entitlements = %v", got.Entitlements)
	}
	audit := c.Get("/admin/audit?search=mia")
	records := audit.Doc.Find(`[data-testid="audit-row"]`)
	// create (by test), grant, revoke, grant: 4 records about mia.
	if records.Length() != 4 {
		t.Fatalf("audit rows = %d: %s", records.Length(), audit.Text(`[data-testid="audit-table"]`))
	}
	first := records.First()
	if !strings.Contains(first.Text(), "root") || !strings.Contains(first.Text(), "entitlement.grant") ||
		strings.TrimSpace(first.Find(".diff-after").Text()) != "aam-admin" {
		t.Fatalf("newest audit row = %q", first.Text())
	}
}

func TestDisablingEndsSessionsAndKeepsAnAdmin(t *testing.T) {
	srv := webtest.Start(t)
	c, root := srv.SignedIn(t, "root", models.RoleAdmin)
	mia, miaOp := srv.SignedIn(t, "mia", models.RoleMarketer)
	c.Get("/admin/operators")

	self := c.HTMX(http.MethodPost, fmt.Sprintf("/admin/operators/%d/disable", root.ID), fmt.Sprintf("operator-row-%d", root.ID), url.Values{})
	if self.Status != http.StatusConflict || self.Header.Get("HX-Reswap") != "none" || !strings.Contains(self.Text(".flash-error"), "your own account") {
		t.Fatalf("disable self = %d %s", self.Status, self.Body)
	}
	r := c.HTMX(http.MethodPost, fmt.Sprintf("/admin/operators/%d/disable", miaOp.ID), fmt.Sprintf("operator-row-%d", miaOp.ID), url.Values{})
	if row := r.TableFragment(); r.Status != 200 || !strings.Contains(row.Find("tr").Text(), "Disabled") || row.Find(`[data-testid="enable-mia"]`).Length() != 1 {
		t.Fatalf("disable mia = %d %s", r.Status, r.Body)
	}
	if r := mia.Get("/"); r.Status != http.StatusSeeOther {
		t.Fatalf("disabled operator's session still works: %d", r.Status)
	}
	r = c.Post(fmt.Sprintf("/admin/operators/%d/enable", miaOp.ID), nil)
	if r.Status != http.StatusSeeOther {
		t.Fatalf("enable = %d", r.Status)
	}
	mia.Login("mia", webtest.Password)
	demote := c.Post(fmt.Sprintf("/admin/operators/%d", root.ID), url.Values{"role": {"marketer"}})
	if demote.Status != http.StatusConflict || !strings.Contains(demote.Text(`[data-testid="error-role"]`), "last enabled administrator") {
		t.Fatalf("demote last admin = %d %q", demote.Status, demote.Text(".field-error"))
	}
}

func TestResetPasswordEndsSessions(t *testing.T) {
	srv := webtest.Start(t)
	c, _ := srv.SignedIn(t, "root", models.RoleAdmin)
	mia, miaOp := srv.SignedIn(t, "mia", models.RoleMarketer)
	c.Get(fmt.Sprintf("/admin/operators/%d", miaOp.ID))
	short := c.Post(fmt.Sprintf("/admin/operators/%d/password", miaOp.ID), url.Values{"password": {"short"}})
	if short.Status != http.StatusUnprocessableEntity || !strings.Contains(short.Text(`[data-testid="error-password"]`), "at least 8") {
		t.Fatalf("short password = %d %q", short.Status, short.Text(".field-error"))
	}
	if r := c.Post(fmt.Sprintf("/admin/operators/%d/password", miaOp.ID), url.Values{"password": {"a brand new one"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("reset = %d", r.Status)
	}
	if r := mia.Get("/"); r.Status != http.StatusSeeOther {
		t.Fatal("old session survived the reset")
	}
	fresh := srv.Client(t)
	fresh.Get("/login")
	if r := fresh.Post("/login", url.Values{"login": {"mia"}, "password": {webtest.Password}}); r.Status != http.StatusUnauthorized {
		t.Fatalf("old password = %d", r.Status)
	}
	fresh.Login("mia", "a brand new one")
}

func TestChangeOwnPassword(t *testing.T) {
	srv := webtest.Start(t)
	c, _ := srv.SignedIn(t, "mia", models.RoleMarketer)
	other := srv.Client(t)
	other.Login("mia", webtest.Password)
	c.Get("/account")
	bad := c.Post("/account/password", url.Values{"current": {"wrong"}, "password": {"short"}, "confirm": {"other"}})
	if bad.Status != http.StatusUnprocessableEntity {
		t.Fatalf("bad change = %d", bad.Status)
	}
	for _, f := range []string{"current", "password", "confirm"} {
		if bad.Text(`[data-testid="error-`+f+`"]`) == "" {
			t.Errorf("no error for %s", f)
		}
	}
	r := c.Post("/account/password", url.Values{"current": {webtest.Password}, "password": {"another secret"}, "confirm": {"another secret"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("change = %d", r.Status)
	}
	if r := c.Get("/account"); r.Status != 200 {
		t.Fatalf("own session after change = %d", r.Status)
	}
	if r := other.Get("/account"); r.Status != http.StatusSeeOther {
		t.Fatalf("other session after change = %d", r.Status)
	}
}

func TestOperatorsListSearchesAndPages(t *testing.T) {
	srv := webtest.Start(t)
	c, _ := srv.SignedIn(t, "root", models.RoleAdmin)
	ctx := context.Background()
	var want []string
	for i := 0; i < 30; i++ {
		login := fmt.Sprintf("user%02d", i)
		want = append(want, login)
		if _, err := srv.Store.CreateOperator(ctx, models.SystemActor("test"), models.OperatorInput{Login: login, Role: "marketer", Password: "long enough"}); err != nil {
			t.Fatal(err)
		}
	}
	first := c.Get("/admin/operators")
	if n := first.Doc.Find(`[data-testid="operators-table"] tbody tr`).Length(); n != models.DefaultPageSize {
		t.Fatalf("first page rows = %d", n)
	}
	if !strings.Contains(first.Text(`[data-testid="pager"]`), "1–25 of 31") {
		t.Fatalf("pager = %q", first.Text(`[data-testid="pager"]`))
	}
	next, _ := first.Doc.Find(`[data-testid="pager-next"]`).Attr("href")
	second := c.Get(next)
	var got []string
	second.Doc.Find(`[data-testid="operators-table"] tbody tr td:first-child`).Each(func(_ int, s *goquery.Selection) {
		got = append(got, strings.TrimSpace(s.Text()))
	})
	// root sorts before user00, so page 2 holds user24..user29.
	if strings.Join(got, ",") != strings.Join(want[24:], ",") {
		t.Fatalf("second page = %v", got)
	}
	r := c.HTMX(http.MethodGet, "/admin/operators?search=USER1&sort=login&desc=1", "operator-results", nil)
	if r.Status != 200 || strings.Contains(r.Body, "<html") {
		t.Fatalf("partial = %d", r.Status)
	}
	got = nil
	r.Doc.Find(`tbody tr td:first-child`).Each(func(_ int, s *goquery.Selection) { got = append(got, strings.TrimSpace(s.Text())) })
	if strings.Join(got, ",") != "user19,user18,user17,user16,user15,user14,user13,user12,user11,user10" {
		t.Fatalf("search = %v", got)
	}
	if v, _ := r.Doc.Find(`th[aria-sort="descending"] a`).Attr("href"); !strings.Contains(v, "sort=login") {
		t.Fatalf("sorted column not marked: %q", v)
	}
	empty := c.Get("/admin/operators?search=nobody-like-this")
	if !strings.Contains(empty.Text(`.table-empty`), "No operator matches") {
		t.Fatalf("empty = %q", empty.Text("tbody"))
	}
}
