package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

func apiAdmin(t *testing.T) (*webtest.Server, *webtest.Client, string) {
	t.Helper()
	srv := webtest.Start(t)
	return srv, srv.Client(t), srv.Token(t, srv.Operator(t, "root", models.RoleAdmin))
}

func crmBody(name string) map[string]any {
	return map[string]any{"label": "Recipient - CRM ID", "internalName": name, "idType": "declaredId",
		"reconciliationKey": "crmId", "integrationCode": "AdobeCampaignID", "aamDataSourceId": 1234,
		"aamDestinationId": nil, "hashAlgorithm": "sha256", "comment": "Hashed CRM IDs."}
}

func TestAPICreatesDataSource(t *testing.T) {
	srv, c, token := apiAdmin(t)
	r := c.API(http.MethodPost, "/api/v1/datasources", token, crmBody("crm"))
	if r.Status != http.StatusCreated {
		t.Fatalf("create = %d %s", r.Status, r.Body)
	}
	var raw map[string]json.RawMessage
	r.JSON(t, &raw)
	var keys []string
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"aamDataSourceId", "aamDestinationId", "builtIn", "comment", "createdAt", "hashAlgorithm", "id", "idType",
		"integrationCode", "internalName", "label", "reconciliationKey", "targetingDimension", "updatedAt"}
	if !slices.Equal(keys, want) {
		t.Fatalf("fields = %v, want %v", keys, want)
	}
	for k, v := range map[string]string{"label": `"Recipient - CRM ID"`, "internalName": `"crm"`, "idType": `"declaredId"`,
		"reconciliationKey": `"crmId"`, "integrationCode": `"AdobeCampaignID"`, "aamDataSourceId": `1234`, "aamDestinationId": `null`,
		"hashAlgorithm": `"sha256"`, "comment": `"Hashed CRM IDs."`, "targetingDimension": `"recipient"`, "builtIn": `false`} {
		if string(raw[k]) != v {
			t.Errorf("%s = %s, want %s", k, raw[k], v)
		}
	}
	if r.Header.Get("Location") != "/api/v1/datasources/crm" {
		t.Errorf("Location = %q", r.Header.Get("Location"))
	}
	ds, err := srv.Store.DataSourceByInternalName(context.Background(), "crm")
	if err != nil || string(raw["id"]) != strconv.FormatInt(ds.ID, 10) {
		t.Fatalf("stored = %+v %v (id %s)", ds, err, raw["id"])
	}
	page, _ := srv.Store.ListAudit(context.Background(), models.AuditQuery{TargetType: "datasource"})
	if page.Total != 1 || page.Items[0].Actor != "root" {
		t.Fatalf("audit = %+v", page.Items)
	}
	dup := c.API(http.MethodPost, "/api/v1/datasources", token, crmBody("crm"))
	var body map[string]string
	dup.JSON(t, &body)
	if dup.Status != http.StatusConflict || body["field"] != "internalName" {
		t.Fatalf("duplicate = %d %s", dup.Status, dup.Body)
	}
}

func TestAPIDataSourceBadInput(t *testing.T) {
	srv, c, token := apiAdmin(t)
	with := func(k string, v any) map[string]any {
		b := crmBody("crm")
		b[k] = v
		return b
	}
	cases := []struct {
		name   string
		body   any
		status int
		field  string
		says   string
	}{
		{"no label", with("label", ""), 422, "label", "enter a label"},
		{"bad id type", with("idType", "cookie"), 422, "idType", "Visitor ID"},
		{"key that does not fit", with("reconciliationKey", "visitorId"), 422, "reconciliationKey", "crmId"},
		{"AAM ID as a string", with("aamDataSourceId", "12a"), 422, "aamDataSourceId", "not a string"},
		{"AAM ID as a fraction", with("aamDataSourceId", 12.5), 422, "aamDataSourceId", "whole number"},
		{"negative AAM destination ID", with("aamDestinationId", -1), 422, "aamDestinationId", "whole number"},
		{"label as a number", with("label", 5), 422, "label", "JSON string"},
		{"unknown field", with("colour", "red"), 400, "colour", `unknown field "colour"`},
		{"malformed JSON", `{"label": "x",}`, 400, "", "the body is not valid JSON: "},
		{"truncated JSON", `{"label": "x"`, 400, "", "the body is not valid JSON: "},
		{"two values", `{} {}`, 400, "", "the body is not valid JSON: "},
		{"an array", `[]`, 400, "", "JSON object"},
		{"empty body", ``, 400, "", "empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.API(http.MethodPost, "/api/v1/datasources", token, tc.body)
			var body map[string]any
			r.JSON(t, &body)
			if r.Status != tc.status || !strings.Contains(body["error"].(string), tc.says) {
				t.Fatalf("= %d %s", r.Status, r.Body)
			}
			if tc.status == 400 {
				if f, ok := body["field"]; !ok || f != tc.field {
					t.Fatalf("field = %v (present %v)", f, ok)
				}
			} else if body["field"] != tc.field {
				t.Fatalf("field = %v, want %s", body["field"], tc.field)
			}
		})
	}
	// The exact shape of a malformed body's answer.
	r := c.API(http.MethodPost, "/api/v1/datasources", token, `{`)
	var exact map[string]string
	r.JSON(t, &exact)
	if len(exact) != 2 || !strings.HasPrefix(exact["error"], "the body is not valid JSON: ") || exact["field"] != "" {
		t.Fatalf("malformed = %s", r.Body)
	}
	if n := countDataSources(t, srv); n != 1 {
		t.Fatalf("bad input created data sources: %d", n)
	}
}

func TestAPIDataSourcesAreForAdmins(t *testing.T) {
	srv := webtest.Start(t)
	mia := srv.Operator(t, "mia", models.RoleMarketer, models.AudienceLibrary, models.AAMAdmin)
	token := srv.Token(t, mia)
	mustDataSource(t, srv, "crm")
	c := srv.Client(t)
	for _, call := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/api/v1/datasources", nil},
		{http.MethodPost, "/api/v1/datasources", crmBody("crm2")},
		{http.MethodGet, "/api/v1/datasources/crm", nil},
		{http.MethodPut, "/api/v1/datasources/crm", crmBody("crm")},
		{http.MethodDelete, "/api/v1/datasources/crm", nil},
		{http.MethodDelete, "/api/v1/datasources/nothing", nil},
	} {
		r := c.API(call.method, call.path, token, call.body)
		var body map[string]string
		r.JSON(t, &body)
		if r.Status != http.StatusForbidden || !strings.Contains(body["error"], "admin role") {
			t.Errorf("%s %s = %d %s", call.method, call.path, r.Status, r.Body)
		}
	}
	if r := c.API(http.MethodGet, "/api/v1/datasources", "", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("no token = %d", r.Status)
	}
	ds, err := srv.Store.DataSourceByInternalName(context.Background(), "crm")
	if err != nil || ds.Label != "Source crm" || countDataSources(t, srv) != 2 {
		t.Fatalf("refused calls changed the data sources: %+v %v", ds, err)
	}
}

func TestAPIDataSourceLifecycle(t *testing.T) {
	srv, c, token := apiAdmin(t)
	for _, name := range []string{"alpha", "beta", "gamma"} {
		if r := c.API(http.MethodPost, "/api/v1/datasources", token, crmBody(name)); r.Status != http.StatusCreated {
			t.Fatalf("create %s = %d %s", name, r.Status, r.Body)
		}
	}
	var page struct {
		Total    int64            `json:"total"`
		Page     int              `json:"page"`
		PageSize int              `json:"pageSize"`
		List     []map[string]any `json:"list"`
	}
	r := c.API(http.MethodGet, "/api/v1/datasources?page=1&pageSize=2", token, nil)
	r.JSON(t, &page)
	if r.Status != 200 || page.Total != 4 || page.Page != 1 || page.PageSize != 2 || len(page.List) != 2 {
		t.Fatalf("page 1 = %d %s", r.Status, r.Body)
	}
	r = c.API(http.MethodGet, "/api/v1/datasources?search=defaultdata", token, nil)
	r.JSON(t, &page)
	if page.Total != 1 || page.List[0]["internalName"] != models.DefaultDataSourceName || page.List[0]["builtIn"] != true {
		t.Fatalf("search = %s", r.Body)
	}
	r = c.API(http.MethodGet, "/api/v1/datasources?search=nothing-matches", token, nil)
	if r.Status != 200 || !strings.Contains(r.Body, `"list":[]`) {
		t.Fatalf("empty page = %s", r.Body)
	}

	var got map[string]any
	r = c.API(http.MethodGet, "/api/v1/datasources/beta", token, nil)
	r.JSON(t, &got)
	if r.Status != 200 || got["internalName"] != "beta" || got["aamDataSourceId"] != float64(1234) {
		t.Fatalf("get = %d %s", r.Status, r.Body)
	}

	// PUT replaces the fields; what GET answered can be sent back as is.
	got["label"], got["reconciliationKey"], got["aamDestinationId"], got["hashAlgorithm"] = "Beta by e-mail", "email", 77, "none"
	r = c.API(http.MethodPut, "/api/v1/datasources/beta", token, got)
	var put map[string]any
	r.JSON(t, &put)
	if r.Status != 200 || put["label"] != "Beta by e-mail" || put["reconciliationKey"] != "email" || put["aamDestinationId"] != float64(77) ||
		put["hashAlgorithm"] != "none" {
		t.Fatalf("put = %d %s", r.Status, r.Body)
	}
	ds, _ := srv.Store.DataSourceByInternalName(context.Background(), "beta")
	if ds.Label != "Beta by e-mail" || ds.AAMDestinationID == nil || *ds.AAMDestinationID != 77 {
		t.Fatalf("stored = %+v", ds)
	}
	renamed := crmBody("delta")
	r = c.API(http.MethodPut, "/api/v1/datasources/beta", token, renamed)
	var body map[string]string
	r.JSON(t, &body)
	if r.Status != http.StatusUnprocessableEntity || body["field"] != "internalName" {
		t.Fatalf("rename = %d %s", r.Status, r.Body)
	}
	def := crmBody("")
	def["label"] = "Renamed"
	r = c.API(http.MethodPut, "/api/v1/datasources/"+models.DefaultDataSourceName, token, def)
	r.JSON(t, &body)
	if r.Status != http.StatusUnprocessableEntity || body["field"] != "label" || !strings.Contains(body["error"], "built-in") {
		t.Fatalf("change built-in = %d %s", r.Status, r.Body)
	}

	// DELETE answers 204; in use or built-in, 409 saying why.
	if r := c.API(http.MethodDelete, "/api/v1/datasources/alpha", token, nil); r.Status != http.StatusNoContent || r.Body != "" {
		t.Fatalf("delete = %d %s", r.Status, r.Body)
	}
	gamma, _ := srv.Store.DataSourceByInternalName(context.Background(), "gamma")
	insertList(t, srv, "Summer buyers", "LST12", gamma.ID)
	r = c.API(http.MethodDelete, "/api/v1/datasources/gamma", token, nil)
	r.JSON(t, &body)
	if r.Status != http.StatusConflict || !strings.Contains(body["error"], `used by list "Summer buyers" (LST12)`) {
		t.Fatalf("delete in use = %d %s", r.Status, r.Body)
	}
	r = c.API(http.MethodDelete, "/api/v1/datasources/"+models.DefaultDataSourceName, token, nil)
	if r.Status != http.StatusConflict || !strings.Contains(r.Body, "built-in") {
		t.Fatalf("delete built-in = %d %s", r.Status, r.Body)
	}

	// Unknown data sources are 404 for every method.
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		var b any
		if m == http.MethodPut {
			b = crmBody("alpha")
		}
		r := c.API(m, "/api/v1/datasources/alpha", token, b)
		var e map[string]string
		r.JSON(t, &e)
		if r.Status != http.StatusNotFound || !strings.Contains(e["error"], `"alpha"`) {
			t.Errorf("%s unknown = %d %s", m, r.Status, r.Body)
		}
	}
}
