package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

// A JSON body over the limit is refused with 413 and a JSON error that
// says so, before any of it is decoded; a form over the limit too.
func TestSecurityBodyLimits(t *testing.T) {
	srv := webtest.Start(t)
	admin, op := srv.SignedIn(t, "ana", models.RoleAdmin, models.AudienceLibrary, models.AAMAdmin)
	token := srv.Token(t, op)
	huge := `{"label":"` + strings.Repeat("a", 2<<20) + `"}`
	for _, path := range []string{"/api/v1/lists", "/api/v1/workflows", "/api/v1/recipients", "/api/v1/datasources", "/aam/v1/segments"} {
		r := admin.API(http.MethodPost, path, token, huge, "application/json")
		var body struct{ Error string }
		r.JSON(t, &body)
		if r.Status != http.StatusRequestEntityTooLarge || !strings.Contains(body.Error, "1 MB") || strings.Contains(body.Error, "form") {
			t.Errorf("POST %s with 2 MB: %d %q, want 413 naming the JSON limit", path, r.Status, body.Error)
		}
	}
	r := admin.Post("/lists", url.Values{"label": {strings.Repeat("a", 2<<20)}})
	if r.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("a 2 MB form: %d, want 413", r.Status)
	}
}

// pageSize above the maximum is capped, and says so in the answer; a
// page number that would overflow the offset is not a server error.
func TestSecurityPaginationCaps(t *testing.T) {
	srv := webtest.Start(t)
	admin, op := srv.SignedIn(t, "ana", models.RoleAdmin, models.AudienceLibrary, models.AAMAdmin)
	token := srv.Token(t, op)
	for _, path := range []string{"/api/v1/recipients", "/api/v1/lists", "/api/v1/workflows", "/api/v1/runs", "/api/v1/datasources", "/aam/v1/segments"} {
		r := admin.API(http.MethodGet, path+"?pageSize=100000", token, nil)
		var page struct {
			PageSize int `json:"pageSize"`
		}
		r.JSON(t, &page)
		if r.Status != http.StatusOK || page.PageSize != models.MaxPageSize {
			t.Errorf("GET %s?pageSize=100000: %d, pageSize %d, want 200 capped at %d", path, r.Status, page.PageSize, models.MaxPageSize)
		}
		for _, q := range []string{"?page=9223372036854775807&pageSize=200", "?page=4611686018427387904", "?page=-1&pageSize=-5"} {
			if r := admin.API(http.MethodGet, path+q, token, nil); r.Status != http.StatusOK && r.Status != http.StatusBadRequest {
				t.Errorf("GET %s%s: %d %s", path, q, r.Status, r.Body)
			}
		}
	}
	for _, path := range []string{"/recipients", "/lists", "/workflows", "/admin/operators", "/admin/audit", "/notifications", "/library"} {
		for _, q := range []string{"?pageSize=100000", "?page=9223372036854775807&pageSize=200", "?page=4611686018427387904"} {
			if r := admin.Get(path + q); r.Status != http.StatusOK {
				t.Errorf("GET %s%s: %d", path, q, r.Status)
			}
		}
	}
}

// A query has at most models.MaxConditions conditions, through the API and
// the form; field names outside the list are refused by name; values
// are data, never SQL.
func TestSecurityQueryConditions(t *testing.T) {
	srv := webtest.Start(t)
	admin, op := srv.SignedIn(t, "ana", models.RoleAdmin, models.AudienceLibrary, models.AAMAdmin)
	token := srv.Token(t, op)
	shopFixture(t, srv, 10)

	conds := func(n int, field, opName, value string) []map[string]string {
		out := make([]map[string]string, n)
		for i := range out {
			out[i] = map[string]string{"field": field, "op": opName, "value": value}
		}
		return out
	}
	create := func(c []map[string]string) *webtest.Response {
		return admin.API(http.MethodPost, "/api/v1/workflows", token, map[string]any{"label": "Q", "query": map[string]any{"conditions": c},
			"updateSharedAudience": map[string]any{"newSegmentName": "Q segment"}, "dataSource": models.DefaultDataSourceName})
	}
	var body struct{ Error, Field string }
	r := create(conds(models.MaxConditions+1, "email", "contains", "a"))
	r.JSON(t, &body)
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(body.Field, "conditions") || !strings.Contains(body.Error, "20") {
		t.Errorf("%d conditions via the API: %d %+v", models.MaxConditions+1, r.Status, body)
	}
	for _, field := range []string{"password_hash", "email; DROP TABLE recipients", "1=1 OR email", "email\x00"} {
		r := create(conds(1, field, "equals", "x"))
		body.Error, body.Field = "", ""
		r.JSON(t, &body)
		if r.Status != http.StatusUnprocessableEntity || !strings.Contains(body.Field, "conditions") || !strings.Contains(body.Error, "field") {
			t.Errorf("field %q: %d %+v, want 422 naming the field", field, r.Status, body)
		}
	}
	for _, op := range []string{"equals; --", "LIKE", "in"} {
		r := create(conds(1, "email", op, "x"))
		if r.Status != http.StatusUnprocessableEntity {
			t.Errorf("op %q: %d", op, r.Status)
		}
	}

	// The form: the 21st row is refused, and so is a saved query of 21.
	created := admin.Post("/workflows", url.Values{"label": {"Form query"}})
	page := created.Location()
	admin.HTMX(http.MethodPost, page+"/activities", "workflow-canvas", url.Values{"activity": {"query"}})
	form := url.Values{}
	for range models.MaxConditions + 1 {
		form.Add("cond_field", "email")
		form.Add("cond_op", "contains")
		form.Add("cond_value", "a")
	}
	saved := admin.HTMX(http.MethodPost, page+"/activities/query", "activity-dialog", form)
	if saved.Header.Get("HX-Trigger") == "workflow-saved" || !strings.Contains(saved.Body, "20") {
		t.Errorf("a form query of %d conditions: %d trigger %q", models.MaxConditions+1, saved.Status, saved.Header.Get("HX-Trigger"))
	}
	form.Set("row", fmt.Sprint(models.MaxConditions))
	if row := admin.HTMX(http.MethodPost, page+"/activities/query/row", "condition-rows", form); row.Status < 400 && !strings.Contains(row.Body, "20") {
		t.Errorf("a 21st row: %d", row.Status)
	}

	// Values are data: the live count of an injection attempt is what the
	// value literally matches (nothing), not every recipient.
	for _, v := range []string{"x' OR 1=1 --", `x" OR "1"="1`, "%", "_", `\`, "'; DELETE FROM recipients; --"} {
		for _, op := range []string{"equals", "contains", "startsWith", "endsWith"} {
			count := admin.HTMX(http.MethodPost, page+"/activities/query/count", "query-count", url.Values{"cond_field": {"email"}, "cond_op": {op}, "cond_value": {v}})
			if got := count.Text(`[data-testid="count-value"]`); got != "0" {
				t.Errorf("email %s %q counts %q recipients, want 0", op, v, got)
			}
		}
	}
	if n, err := srv.Store.CountRecipients(t.Context()); err != nil || n != 10 {
		t.Errorf("recipients after the attempts: %d %v", n, err)
	}
}
