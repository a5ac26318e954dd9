package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

func TestExternalAccounts(t *testing.T) {
	srv := webtest.Start(t)
	c, _ := srv.SignedIn(t, "root", models.RoleAdmin)
	// A second console plays the remote library.
	remote := webtest.Start(t)
	owner := remote.Operator(t, "publisher", models.RoleAdmin, models.AudienceLibrary, models.AAMAdmin)
	token := remote.Token(t, owner)
	if _, err := library.NewEmbedded(remote.Store).CreateDataSource(context.Background(), library.DataSource{Name: "Remote visitors", IDType: library.Cookie}); err != nil {
		t.Fatal(err)
	}

	page := c.Get("/admin/external-accounts")
	if page.Status != 200 || !page.Has(`[data-testid="account-importSharedAudience"]`) || !page.Has(`[data-testid="account-exportSharedAudience"]`) {
		t.Fatalf("page = %d", page.Status)
	}
	test := c.HTMX(http.MethodPost, "/admin/external-accounts/importSharedAudience/test", "test-importSharedAudience", url.Values{})
	if !strings.Contains(test.Text(`[data-testid="test-result"]`), "embedded library answers: 0 data sources") {
		t.Fatalf("embedded test = %q", test.Text(`[data-testid="test-result"]`))
	}
	bad := c.Post("/admin/external-accounts/importSharedAudience", url.Values{"mode": {"remote"}, "baseUrl": {"ftp://nowhere"}})
	if bad.Status != http.StatusUnprocessableEntity || bad.Text(`[data-testid="error-baseUrl"]`) == "" || bad.Text(`[data-testid="error-token"]`) == "" {
		t.Fatalf("bad remote = %d %q %q", bad.Status, bad.Text(`[data-testid="error-baseUrl"]`), bad.Text(`[data-testid="error-token"]`))
	}
	ok := c.Post("/admin/external-accounts/importSharedAudience", url.Values{"mode": {"remote"}, "baseUrl": {remote.URL}, "token": {token}, "apiKey": {"key-123"}})
	if ok.Status != http.StatusSeeOther {
		t.Fatalf("save = %d %s", ok.Status, ok.Text(".field-error"))
	}
	page = c.Get("/admin/external-accounts")
	if strings.Contains(page.Body, token) || strings.Contains(page.Body, "key-123") {
		t.Fatal("a secret is shown back")
	}
	if !strings.Contains(page.Text(`[data-testid="account-importSharedAudience"]`), "stored; leave empty to keep it") {
		t.Errorf("secrets not shown as masked: %q", page.Text(`[data-testid="account-importSharedAudience"]`))
	}
	test = c.HTMX(http.MethodPost, "/admin/external-accounts/importSharedAudience/test", "test-importSharedAudience", url.Values{})
	if msg := strings.ToLower(test.Text(`[data-testid="test-result"]`)); !strings.Contains(msg, "1 data source") || !strings.Contains(msg, "reached") {
		t.Fatalf("remote test = %q", msg)
	}
	// Saving without a token keeps the stored one.
	if r := c.Post("/admin/external-accounts/importSharedAudience", url.Values{"mode": {"remote"}, "baseUrl": {remote.URL}}); r.Status != http.StatusSeeOther {
		t.Fatalf("save keeping the token = %d", r.Status)
	}
	test = c.HTMX(http.MethodPost, "/admin/external-accounts/importSharedAudience/test", "test-importSharedAudience", url.Values{})
	if !strings.Contains(strings.ToLower(test.Text(`[data-testid="test-result"]`)), "reached") {
		t.Fatalf("kept token test = %q", test.Text(`[data-testid="test-result"]`))
	}
	c.Post("/admin/external-accounts/exportSharedAudience", url.Values{"mode": {"remote"}, "baseUrl": {remote.URL}, "token": {"ab_wrong"}})
	test = c.HTMX(http.MethodPost, "/admin/external-accounts/exportSharedAudience/test", "test-exportSharedAudience", url.Values{})
	if msg := test.Text(`[data-testid="test-result"]`); !strings.Contains(msg, "The connection failed") || strings.Contains(msg, "ab_wrong") {
		t.Fatalf("wrong token test = %q", msg)
	}
	audit, _ := srv.Store.ListAudit(context.Background(), models.AuditQuery{TargetType: "externalAccount"})
	if audit.Total != 3 || strings.Contains(audit.Items[0].AfterJSON, token) {
		t.Fatalf("audit = %d records", audit.Total)
	}
	if r := c.Get("/admin/external-accounts/nope"); r.Status != 404 && r.Status != 405 {
		t.Errorf("unknown account = %d", r.Status)
	}
	m, _ := srv.SignedIn(t, "mia", models.RoleMarketer, models.AudienceLibrary, models.AAMAdmin)
	for _, path := range []string{"/admin/external-accounts/importSharedAudience", "/admin/external-accounts/importSharedAudience/test"} {
		if r := m.Post(path, url.Values{"mode": {"embedded"}}); r.Status != http.StatusForbidden {
			t.Errorf("marketer POST %s = %d", path, r.Status)
		}
	}
}

func TestPickerBrowsesTheLibraryOfItsAccount(t *testing.T) {
	srv := webtest.Start(t)
	c, _ := srv.SignedIn(t, "root", models.RoleAdmin, models.AudienceLibrary, models.AAMAdmin)
	remote := webtest.Start(t)
	owner := remote.Operator(t, "publisher", models.RoleAdmin, models.AudienceLibrary, models.AAMAdmin)
	lib := library.NewEmbedded(remote.Store)
	ds, err := lib.CreateDataSource(context.Background(), library.DataSource{Name: "Remote visitors", IDType: library.Cookie})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lib.CreateSegment(context.Background(), library.SegmentInput{Name: "Only on the remote side", DataSourceID: ds.ID}); err != nil {
		t.Fatal(err)
	}
	c.Get("/admin/external-accounts")
	if r := c.Post("/admin/external-accounts/importSharedAudience", url.Values{"mode": {"remote"}, "baseUrl": {remote.URL}, "token": {remote.Token(t, owner)}}); r.Status != http.StatusSeeOther {
		t.Fatalf("save = %d", r.Status)
	}
	picker := c.HTMX(http.MethodGet, "/library/picker?mode=import", "picker", nil)
	if picker.Status != 200 || !strings.Contains(picker.Body, "Only on the remote side") {
		t.Fatalf("import picker = %d, remote segment missing", picker.Status)
	}
	export := c.HTMX(http.MethodGet, "/library/picker?mode=export", "picker", nil)
	if strings.Contains(export.Body, "Only on the remote side") {
		t.Fatal("the export picker (embedded account) shows the remote library")
	}
	// The remote library goes away: the picker says so instead of hanging.
	if r := c.Post("/admin/external-accounts/importSharedAudience", url.Values{"mode": {"remote"}, "baseUrl": {"http://127.0.0.1:1"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("save = %d", r.Status)
	}
	down := c.HTMX(http.MethodGet, "/library/picker?mode=import", "picker", nil)
	if down.Status != http.StatusBadGateway || down.Header.Get("HX-Reswap") != "none" || !strings.Contains(strings.ToLower(down.Text(".flash-error")), "could not reach the remote library") {
		t.Fatalf("picker with the library down = %d %q", down.Status, down.Body)
	}
}
