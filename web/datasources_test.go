package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/chromedp/chromedp"

	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

// insertList adds a list that uses a data source: lists have no store
// methods yet, so the row goes in through the connection pool.
func insertList(t *testing.T, srv *webtest.Server, label, name string, dataSourceID int64) {
	t.Helper()
	db, err := srv.Store.SQL()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO lists (label, internal_name, type, data_source_id, created_at, updated_at)
		VALUES ($1, $2, 'sharedAudience', $3, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`, label, name, dataSourceID); err != nil {
		t.Fatalf("insert list %s: %v", name, err)
	}
}

func crmForm(name string) url.Values {
	return url.Values{"label": {"Recipient - CRM ID"}, "internalName": {name}, "targetingDimension": {"recipient"},
		"idType": {"declaredId"}, "reconciliationKey": {"crmId"}, "integrationCode": {"AdobeCampaignID"},
		"aamDataSourceId": {"1234"}, "aamDestinationId": {""}, "hashAlgorithm": {"sha256"}, "comment": {"CRM IDs, hashed."}}
}

func mustDataSource(t *testing.T, srv *webtest.Server, name string) *models.DataSource {
	t.Helper()
	ds, err := srv.Store.CreateDataSource(context.Background(), models.SystemActor("test"), models.DataSourceInput{
		Label: "Source " + name, InternalName: name, IDType: "declaredId", ReconciliationKey: "email", IntegrationCode: "AdobeCampaignID"})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func countDataSources(t *testing.T, srv *webtest.Server) int64 {
	t.Helper()
	page, err := srv.Store.ListDataSources(context.Background(), models.DataSourceQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return page.Total
}

func TestMarketersAreRefusedDataSources(t *testing.T) {
	srv := webtest.Start(t)
	mia, _ := srv.SignedIn(t, "mia", models.RoleMarketer, models.AudienceLibrary, models.AAMAdmin)
	mustDataSource(t, srv, "crm")
	for _, path := range []string{"/admin/datasources", "/admin/datasources?search=crm", "/admin/datasources/new",
		"/admin/datasources/crm", "/admin/datasources/" + models.DefaultDataSourceName} {
		r := mia.Get(path)
		if r.Status != http.StatusForbidden || !strings.Contains(r.Text(`[data-testid="access-denied"]`), "Administrator") {
			t.Errorf("GET %s = %d", path, r.Status)
		}
	}
	if r := mia.HTMX(http.MethodGet, "/admin/datasources?search=c", "datasource-results", nil); r.Status != http.StatusForbidden || r.Has("table") {
		t.Errorf("HTMX search = %d", r.Status)
	}
	form := crmForm("crm2")
	for _, path := range []string{"/admin/datasources", "/admin/datasources/crm", "/admin/datasources/crm/delete",
		"/admin/datasources/" + models.DefaultDataSourceName + "/delete"} {
		if r := mia.Post(path, form); r.Status != http.StatusForbidden {
			t.Errorf("POST %s = %d", path, r.Status)
		}
	}
	if n := countDataSources(t, srv); n != 2 {
		t.Fatalf("refused requests changed the data sources: %d", n)
	}
	ds, _ := srv.Store.DataSourceByInternalName(context.Background(), "crm")
	if ds.Label != "Source crm" {
		t.Fatalf("refused update changed the label: %q", ds.Label)
	}
	if page, _ := srv.Store.ListAudit(context.Background(), models.AuditQuery{TargetType: "datasource"}); page.Total != 1 {
		t.Fatalf("audit records = %d, want only the creation", page.Total)
	}
	// Marketers do not see the node in the explorer.
	if home := mia.Get("/"); strings.Contains(home.Body, `href="/admin/datasources"`) {
		t.Error("the explorer offers AMC Data sources to a marketer")
	}
}

func TestDataSourcesList(t *testing.T) {
	srv := webtest.Start(t)
	c, _ := srv.SignedIn(t, "root", models.RoleAdmin)
	mustDataSource(t, srv, "alpha")
	r := c.Get("/admin/datasources")
	if r.Status != 200 {
		t.Fatalf("list = %d", r.Status)
	}
	var headers []string
	r.Doc.Find(`[data-testid="datasources-table"] thead th`).Each(func(_ int, s *goquery.Selection) {
		headers = append(headers, strings.TrimSpace(s.Text()))
	})
	if strings.Join(headers, "|") != "Label|AAM Data source ID|Targeting dimension|Reconciliation key|Internal name" {
		t.Fatalf("columns = %q", headers)
	}
	row := r.Doc.Find(`[data-testid="datasource-defaultDataSource"]`)
	if row.Length() != 1 || row.Find(`[data-testid="builtin-badge"]`).Length() != 1 ||
		!strings.Contains(row.Text(), "Recipients") || !strings.Contains(row.Text(), "Visitor IDs tracked for the recipient") {
		t.Fatalf("built-in row = %q", row.Text())
	}
	if r.Doc.Find(`[data-testid="datasource-alpha"] [data-testid="builtin-badge"]`).Length() != 0 {
		t.Error("a created data source is marked built-in")
	}
	crumbs := strings.Join(strings.Fields(r.Text(`nav.breadcrumbs`)), " ")
	if !strings.Contains(crumbs, "Administration") || !strings.Contains(crumbs, "Platform") || !strings.Contains(crumbs, "AMC Data sources") {
		t.Errorf("breadcrumbs = %q", crumbs)
	}
	if href, _ := r.Doc.Find(`[data-testid="new-datasource"]`).Attr("href"); href != "/admin/datasources/new" ||
		!strings.Contains(r.Text(`[data-testid="new-datasource"]`), "New data source…") {
		t.Errorf("New menu = %q %q", href, r.Text(`[data-testid="new-datasource"]`))
	}
	if v, _ := r.Doc.Find(`form.toolbar`).Attr("hx-get"); v != "/admin/datasources" {
		t.Errorf("search box does not refresh as one types: %q", v)
	}

	// Searching as one types refreshes only the results.
	h := c.HTMX(http.MethodGet, "/admin/datasources?search=ALPH", "datasource-results", nil)
	if h.Status != 200 || strings.Contains(h.Body, "<html") || h.Doc.Find(`tbody tr`).Length() != 1 || !h.Has(`[data-testid="datasource-alpha"]`) {
		t.Fatalf("search fragment = %d %s", h.Status, h.Body)
	}
	none := c.HTMX(http.MethodGet, "/admin/datasources?search=zzz", "datasource-results", nil)
	if !strings.Contains(none.Text(".table-empty"), "No data source matches") {
		t.Fatalf("no match = %s", none.Body)
	}
	// Sorted by internal name, descending: defaultDataSource before alpha.
	sorted := c.Get("/admin/datasources?sort=internalName&desc=1")
	if first, _ := sorted.Doc.Find(`tbody tr`).First().Attr("data-testid"); first != "datasource-defaultDataSource" {
		t.Fatalf("first row sorted by internal name descending = %q", first)
	}
	if v, _ := sorted.Doc.Find(`th[aria-sort="descending"] a`).Attr("href"); !strings.Contains(v, "sort=internalName") {
		t.Fatalf("sorted header = %q", v)
	}
	paged := c.Get("/admin/datasources?pageSize=1&page=1")
	if paged.Doc.Find(`tbody tr`).Length() != 1 || !strings.Contains(paged.Text(`[data-testid="pager"]`), "2–2 of 2") {
		t.Fatalf("page 2 = %q", paged.Text(`[data-testid="pager"]`))
	}
}

func TestAdminManagesDataSourcesThroughTheForms(t *testing.T) {
	srv := webtest.Start(t)
	c, root := srv.SignedIn(t, "root", models.RoleAdmin)
	form := c.Get("/admin/datasources/new")
	if form.Status != 200 || !form.Has(`[data-testid="datasource-form"]`) {
		t.Fatalf("form = %d", form.Status)
	}
	for _, f := range []string{"label", "internalName", "targetingDimension", "idType", "reconciliationKey", "integrationCode",
		"aamDataSourceId", "aamDestinationId", "hashAlgorithm", "comment"} {
		if !form.Has(`[name="` + f + `"]`) {
			t.Errorf("the form has no %s field", f)
		}
	}
	if form.Text(`#field-targetingDimension option[selected]`) != "Recipients" {
		t.Errorf("targeting dimension = %q", form.Text(`#field-targetingDimension option`))
	}

	// Changing the ID type refreshes the key select with the keys that fit.
	keys := c.HTMX(http.MethodGet, "/admin/datasources/new?idType=declaredId&reconciliationKey=visitorId", "reconciliation-key-field", nil)
	var options []string
	keys.Doc.Find(`#field-reconciliationKey option`).Each(func(_ int, s *goquery.Selection) { options = append(options, s.AttrOr("value", "")) })
	if keys.Status != 200 || strings.Join(options, ",") != "crmId,email,id" || keys.Doc.Find(`option[selected]`).AttrOr("value", "") != "crmId" {
		t.Fatalf("key field = %d %v %s", keys.Status, options, keys.Body)
	}

	bad := c.Post("/admin/datasources", url.Values{"label": {""}, "internalName": {"9 lives"}, "idType": {"visitorId"},
		"reconciliationKey": {"crmId"}, "hashAlgorithm": {"sha256"}, "integrationCode": {"a:b"}, "aamDataSourceId": {"12a"},
		"aamDestinationId": {"1.5"}, "targetingDimension": {"recipient"}})
	if bad.Status != http.StatusUnprocessableEntity {
		t.Fatalf("invalid form = %d", bad.Status)
	}
	for _, f := range []string{"label", "internalName", "reconciliationKey", "hashAlgorithm", "integrationCode", "aamDataSourceId", "aamDestinationId"} {
		if bad.Text(`[data-testid="error-`+f+`"]`) == "" {
			t.Errorf("no error shown for %s", f)
		}
	}
	if !strings.Contains(bad.Text(`[data-testid="error-aamDataSourceId"]`), "must be a whole number such as 1234") {
		t.Errorf("AAM ID error = %q", bad.Text(`[data-testid="error-aamDataSourceId"]`))
	}
	if v, _ := bad.Doc.Find(`#field-aamDataSourceId`).Attr("value"); v != "12a" {
		t.Errorf("typed AAM ID not kept: %q", v)
	}
	if n := countDataSources(t, srv); n != 1 {
		t.Fatalf("invalid form created a data source (%d)", n)
	}

	xss := `<script>alert("x")</script>`
	in := crmForm("crmSource")
	in.Set("label", xss)
	ok := c.Post("/admin/datasources", in)
	if ok.Status != http.StatusSeeOther || ok.Location() != "/admin/datasources/crmSource" {
		t.Fatalf("create = %d %q %q", ok.Status, ok.Location(), ok.Text(".form-error-summary, .field-error"))
	}
	page := c.Get(ok.Location())
	if !strings.Contains(page.Text(`[data-testid="flash"]`), "created") {
		t.Errorf("no confirmation: %q", page.Text(".flashes"))
	}
	if strings.Contains(page.Body, xss) || !strings.Contains(page.Body, "&lt;script&gt;") {
		t.Error("the label is not escaped on the record page")
	}
	if !page.Has(`#field-internalName[readonly]`) {
		t.Error("the internal name is editable after creation")
	}
	if page.Doc.Find(`#field-aamDataSourceId`).AttrOr("value", "") != "1234" || page.Text(`#field-comment`) != "CRM IDs, hashed." ||
		page.Doc.Find(`#field-hashAlgorithm option[selected]`).AttrOr("value", "") != "sha256" {
		t.Errorf("record form does not show the stored values")
	}
	if !strings.Contains(page.Text(`[data-testid="datasource-props"]`), "Recipient") {
		t.Errorf("schema not shown: %q", page.Text(`[data-testid="datasource-props"]`))
	}
	list := c.Get("/admin/datasources")
	if strings.Contains(list.Body, xss) || list.Text(`[data-testid="datasource-crmSource"] td:nth-child(1) a`) != xss ||
		list.Text(`[data-testid="datasource-crmSource"] td:nth-child(2)`) != "1234" ||
		list.Text(`[data-testid="datasource-crmSource"] td:nth-child(4)`) != "CRM ID" {
		t.Errorf("list row = %q", list.Text(`[data-testid="datasource-crmSource"]`))
	}

	dup := c.Post("/admin/datasources", crmForm("CRMSOURCE"))
	if dup.Status != http.StatusConflict || !strings.Contains(dup.Text(`[data-testid="error-internalName"]`), "already exists") {
		t.Fatalf("duplicate = %d %q", dup.Status, dup.Text(".field-error"))
	}

	// Edit: the AAM destination ID and the label change; the internal name cannot.
	c.Get("/admin/datasources/crmSource")
	edit := crmForm("crmSource")
	edit.Set("label", "CRM")
	edit.Set("aamDestinationId", "99")
	saved := c.Post("/admin/datasources/crmSource", edit)
	if saved.Status != http.StatusSeeOther || saved.Location() != "/admin/datasources/crmSource" {
		t.Fatalf("save = %d %q", saved.Status, saved.Text(".field-error"))
	}
	if r := c.Get(saved.Location()); !strings.Contains(r.Text(`[data-testid="flash"]`), "saved") {
		t.Errorf("no confirmation of the save: %q", r.Text(".flashes"))
	}
	rename := crmForm("otherName")
	rename.Set("aamDataSourceId", "x")
	refused := c.Post("/admin/datasources/crmSource", rename)
	if refused.Status != http.StatusUnprocessableEntity || !strings.Contains(refused.Text(`[data-testid="error-internalName"]`), "cannot change") ||
		refused.Text(`[data-testid="error-aamDataSourceId"]`) == "" {
		t.Fatalf("rename = %d %q", refused.Status, refused.Text(".field-error"))
	}
	ds, err := srv.Store.DataSourceByInternalName(context.Background(), "crmSource")
	if err != nil || ds.Label != "CRM" || ds.AAMDestinationID == nil || *ds.AAMDestinationID != 99 || *ds.AAMDataSourceID != 1234 {
		t.Fatalf("stored = %+v %v", ds, err)
	}
	audit, _ := srv.Store.ListAudit(context.Background(), models.AuditQuery{TargetType: "datasource"})
	if audit.Total != 2 || audit.Items[0].Action != "datasource.update" || audit.Items[0].Actor != root.Login {
		t.Fatalf("audit = %d %+v", audit.Total, audit.Items)
	}
	if r := c.Get("/admin/datasources/nothing"); r.Status != http.StatusNotFound {
		t.Fatalf("unknown data source = %d", r.Status)
	}

	// Delete, with a confirmation question.
	record := c.Get("/admin/datasources/crmSource")
	if v, _ := record.Doc.Find(`[data-testid="datasource-delete-form"]`).Attr("data-confirm"); !strings.Contains(v, "Delete the data source CRM") {
		t.Fatalf("delete confirm = %q", v)
	}
	del := c.Post("/admin/datasources/crmSource/delete", nil)
	if del.Status != http.StatusSeeOther || del.Location() != "/admin/datasources" {
		t.Fatalf("delete = %d %q", del.Status, del.Location())
	}
	if r := c.Get("/admin/datasources"); !strings.Contains(r.Text(`[data-testid="flash"]`), "deleted") || r.Has(`[data-testid="datasource-crmSource"]`) {
		t.Fatalf("after delete: %q", r.Text(".flashes"))
	}
	if _, err := srv.Store.DataSourceByInternalName(context.Background(), "crmSource"); err == nil {
		t.Fatal("the data source is still there")
	}
}

func TestDataSourceDeleteRefusals(t *testing.T) {
	srv := webtest.Start(t)
	c, _ := srv.SignedIn(t, "root", models.RoleAdmin)
	ds := mustDataSource(t, srv, "crm")
	insertList(t, srv, "Summer buyers", "LST12", ds.ID)
	insertList(t, srv, "Winter buyers", "LST13", ds.ID)
	insertList(t, srv, "Spring buyers", "LST14", ds.ID)

	record := c.Get("/admin/datasources/crm")
	if !strings.Contains(record.Text(`[data-testid="datasource-usage"]`), `list "Summer buyers" (LST12)`) ||
		record.Has(`[data-testid="datasource-delete"]`) || record.Text(`[data-testid="delete-blocked"]`) == "" {
		t.Fatalf("record of a data source in use: usage %q, blocked %q", record.Text(`[data-testid="datasource-usage"]`), record.Text(`[data-testid="delete-blocked"]`))
	}
	r := c.Post("/admin/datasources/crm/delete", nil)
	if r.Status != http.StatusConflict ||
		!strings.Contains(r.Text(`[data-testid="delete-error"]`), `used by list "Summer buyers" (LST12) and 2 other lists: change or delete them first`) {
		t.Fatalf("delete in use = %d %q", r.Status, r.Text(`[data-testid="delete-error"]`))
	}
	h := c.HTMX(http.MethodPost, "/admin/datasources/crm/delete", "main", url.Values{})
	if h.Status != http.StatusConflict || h.Header.Get("HX-Reswap") != "none" || !strings.Contains(h.Text(".flash-error"), "2 other lists") {
		t.Fatalf("HTMX delete in use = %d %s", h.Status, h.Body)
	}

	builtIn := c.Get("/admin/datasources/" + models.DefaultDataSourceName)
	if !builtIn.Has(`[data-testid="builtin-badge"]`) || builtIn.Has(`[data-testid="datasource-delete"]`) ||
		!builtIn.Has(`#field-label[readonly]`) || !builtIn.Has(`#field-internalName[readonly]`) {
		t.Fatalf("built-in record page: %s", builtIn.Text(`[data-testid="datasource-form"]`))
	}
	r = c.Post("/admin/datasources/"+models.DefaultDataSourceName+"/delete", nil)
	if r.Status != http.StatusConflict || !strings.Contains(r.Text(`[data-testid="delete-error"]`), "built-in") {
		t.Fatalf("delete built-in = %d %q", r.Status, r.Text(`[data-testid="delete-error"]`))
	}
	// The built-in form posts its fixed fields, so its AAM IDs can be saved.
	form := url.Values{}
	builtIn.Doc.Find(`[data-testid="datasource-form"] [name]`).Each(func(_ int, s *goquery.Selection) {
		name := s.AttrOr("name", "")
		switch {
		case s.Is("textarea"):
			form.Set(name, s.Text())
		case s.Is("select"):
			form.Set(name, s.Find("option[selected]").AttrOr("value", ""))
		default:
			form.Set(name, s.AttrOr("value", ""))
		}
	})
	form.Set("aamDataSourceId", "555")
	if r := c.Post("/admin/datasources/"+models.DefaultDataSourceName, form); r.Status != http.StatusSeeOther {
		t.Fatalf("save built-in = %d %q", r.Status, r.Text(".field-error, .form-error-summary"))
	}
	form.Set("label", "Mine now")
	if r := c.Post("/admin/datasources/"+models.DefaultDataSourceName, form); r.Status != http.StatusUnprocessableEntity ||
		!strings.Contains(r.Text(`[data-testid="error-label"]`), "built-in") {
		t.Fatalf("relabel built-in = %d %q", r.Status, r.Text(".field-error"))
	}
	def, err := srv.Store.DataSourceByInternalName(context.Background(), models.DefaultDataSourceName)
	if err != nil || def.Label != "Recipient - Visitor ID" || def.AAMDataSourceID == nil || *def.AAMDataSourceID != 555 {
		t.Fatalf("built-in = %+v %v", def, err)
	}
	if n := countDataSources(t, srv); n != 2 {
		t.Fatalf("data sources = %d", n)
	}
}

func TestBrowserCreatesDataSource(t *testing.T) {
	srv := webtest.Start(t)
	srv.Operator(t, "root", models.RoleAdmin)
	ctx := webtest.Browser(t)
	browserLogin(t, ctx, srv.URL, "root")
	err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/admin/datasources"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="datasource-defaultDataSource"]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	webtest.Screenshot(t, ctx, "datasources")
	// Choosing Declared ID refreshes the key select with the keys that fit.
	err = chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/admin/datasources/new"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="datasource-form"]`)),
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#field-idType'); s.value = 'declaredId';
			s.dispatchEvent(new Event('change', {bubbles: true})); })()`),
		chromedp.WaitReady(chromedp.CSS(`#field-reconciliationKey option[value="crmId"]`)),
		chromedp.SendKeys(chromedp.CSS(`#field-label`), "Recipient - CRM ID"),
		chromedp.SendKeys(chromedp.CSS(`#field-internalName`), "crmId"),
		chromedp.SendKeys(chromedp.CSS(`#field-integrationCode`), "AdobeCampaignID"),
		chromedp.SendKeys(chromedp.CSS(`#field-aamDataSourceId`), "1234"),
	)
	if err != nil {
		t.Fatalf("ID type refresh: %v", err)
	}
	webtest.Screenshot(t, ctx, "new-datasource")
	keys, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`Array.from(document.querySelectorAll('#field-reconciliationKey option')).map(o => o.value).join(',')`))
	if err != nil || keys != "crmId,email,id" {
		t.Fatalf("keys = %q %v", keys, err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`[data-testid="datasource-save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="datasource-props"]`)),
	)
	if err != nil {
		t.Fatalf("save: %v", err)
	}
	webtest.Screenshot(t, ctx, "datasource-record")
	ds, err := srv.Store.DataSourceByInternalName(context.Background(), "crmId")
	if err != nil || ds.ReconciliationKey != "crmId" || ds.IDType != "declaredId" || *ds.AAMDataSourceID != 1234 {
		t.Fatalf("stored = %+v %v", ds, err)
	}
}
