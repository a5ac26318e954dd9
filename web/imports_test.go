package web_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

const ecidA = "07955261652886032950143702505894272138"
const ecidB = "12345678901234567890123456789012345678"

// waitImport polls the import page the way the progress bar does until the
// import has ended.
func waitImport(t *testing.T, c *webtest.Client, path string) *webtest.Response {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := c.HTMX(http.MethodGet, path, "import-progress", nil)
		if r.Status != 200 {
			t.Fatalf("poll %s = %d", path, r.Status)
		}
		status, _ := r.Doc.Find(`[data-testid="import-progress"]`).Attr("data-status")
		if status == "succeeded" || status == "failed" {
			if _, polling := r.Doc.Find(`[data-testid="import-progress"]`).Attr("hx-trigger"); polling {
				t.Fatal("a finished import still polls")
			}
			return r
		}
		if _, polling := r.Doc.Find(`[data-testid="import-progress"]`).Attr("hx-trigger"); !polling {
			t.Fatalf("a %s import does not poll", status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("import still %s", status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestImportRecipientsThroughTheConsole(t *testing.T) {
	srv := webtest.Start(t)
	c, _ := srv.SignedIn(t, "mia", models.RoleMarketer)
	ctx := context.Background()
	// An existing recipient whose names the file fills in part.
	if _, err := srv.Store.CreateRecipient(ctx, models.RecipientInput{Email: "old@example.com", FirstName: "Olga", LastName: "Old", CRMID: "C-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Store.CreateRecipient(ctx, models.RecipientInput{Email: "crm@example.com", CRMID: "C-9"}); err != nil {
		t.Fatal(err)
	}
	file := strings.Join([]string{
		"E-mail;First name;Last name;CRM ID;ECID;phone", // line 1: header, phone is not imported
		"ana@example.com;Ana;Alves;C-2;" + ecidA + ";1", // 2 created
		"OLD@example.com;;Oldman;;" + ecidB + ";2",      // 3 updated: last name and a visitor ID; first name kept
		"not-an-email;X;Y;;;3",                          // 4 rejected: e-mail
		"bob@example.com;Bob;;C:3;;4",                   // 5 rejected: CRM ID with ':'
		"ana@example.com;Ann;;;;5",                      // 6 rejected: duplicate of line 2
		"cy@example.com;Cy;;C-9;;6",                     // 7 rejected: C-9 belongs to crm@example.com
		"=cmd@example.com;;;;123;7",                     // 8 rejected: the ECID; the e-mail cell is a formula
		"dee@example.com;Dee;;;;8",                      // 9 created
	}, "\r\n") + "\r\n"
	page := c.Get("/recipients/import")
	if !page.Has(`[data-testid="upload-form"]`) {
		t.Fatalf("no upload form: %d", page.Status)
	}
	up := c.Upload("/recipients/import", "file", "../../people.csv", []byte(file), map[string]string{"newList": "1"})
	if up.Status != http.StatusSeeOther || !strings.HasPrefix(up.Location(), "/recipients/import/uploads/") {
		t.Fatalf("upload = %d %q %s", up.Status, up.Location(), up.Text(`[data-testid="upload-error"]`))
	}
	mapping := c.Get(up.Location())
	if got := mapping.Doc.Find(`[data-testid="preview-table"] tbody tr`).Length(); got != 8 {
		t.Fatalf("preview rows = %d", got)
	}
	if v, _ := mapping.Doc.Find(`#field-delimiter option[selected]`).Attr("value"); v != ";" {
		t.Errorf("delimiter = %q", v)
	}
	want := []string{"email", "firstName", "lastName", "crmId", "visitorId", ""}
	for i, w := range want {
		if v, _ := mapping.Doc.Find(fmt.Sprintf(`#col-%d option[selected]`, i)).Attr("value"); v != w {
			t.Errorf("column %d mapped to %q, want %q", i, v, w)
		}
	}
	if !strings.Contains(mapping.Text(`[data-testid="preview-warning"]`), "phone") {
		t.Errorf("no warning about the phone column: %q", mapping.Text(".flashes, form"))
	}
	if v, _ := mapping.Doc.Find(`#field-newListLabel`).Attr("value"); v != "people" {
		t.Errorf("new list label = %q", v)
	}
	form := url.Values{"delimiter": {";"}, "updateExisting": {"1"}, "listMode": {"new"}, "newListLabel": {"People from the file"}}
	for i, w := range want {
		form.Set(fmt.Sprintf("col%d", i), w)
	}
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("col0", "")
	if r := c.Post(up.Location(), bad); r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Text(`[data-testid="error-mapping"]`), "mail") {
		t.Fatalf("mapping without e-mail = %d %q", r.Status, r.Text(`[data-testid="error-mapping"]`))
	}
	start := c.Post(up.Location(), form)
	if start.Status != http.StatusSeeOther || !strings.HasPrefix(start.Location(), "/recipients/imports/") {
		t.Fatalf("start = %d %q", start.Status, start.Location())
	}
	if full := c.Get(start.Location()); !full.Has(`[data-testid="progress-bar"]`) {
		t.Fatal("no progress bar")
	}
	done := waitImport(t, c, start.Location())
	counts := map[string]string{"created": "2", "updated": "1", "skipped": "0", "rejected": "5"}
	for k, v := range counts {
		if got := done.Text(`[data-testid="count-` + k + `"]`); got != v {
			t.Errorf("%s = %s, want %s", k, got, v)
		}
	}
	reasons := map[string]string{}
	done.Doc.Find(`[data-testid="rejected-row"]`).Each(func(_ int, s *goquery.Selection) {
		reasons[strings.TrimSpace(s.Find("td").First().Text())] = s.Find("td").Eq(1).Text()
	})
	wantReasons := map[string]string{"4": "email", "5": `must not contain ":"`, "6": "duplicate of line 2", "7": "already belongs to crm@example.com", "8": "visitorId"}
	for line, w := range wantReasons {
		if !strings.Contains(reasons[line], w) {
			t.Errorf("line %s: reason %q, want it to mention %q", line, reasons[line], w)
		}
	}
	if len(reasons) != len(wantReasons) {
		t.Errorf("rejected lines = %v", reasons)
	}
	// Stored: the empty first-name cell left "Olga" alone.
	old, _, err := srv.Store.RecipientsByEmail(ctx, []string{"old@example.com"})
	if err != nil || len(old) != 1 || old[0].FirstName != "Olga" || old[0].LastName != "Oldman" || old[0].CRM() != "C-1" {
		t.Fatalf("old recipient = %+v %v", old, err)
	}
	full, _ := srv.Store.RecipientByID(ctx, old[0].ID)
	if len(full.VisitorIDs) != 1 || full.VisitorIDs[0].VisitorID != ecidB {
		t.Errorf("visitor IDs = %+v", full.VisitorIDs)
	}
	if n, _ := srv.Store.CountRecipients(ctx); n != 4 {
		t.Errorf("recipients = %d, want 4", n)
	}
	lists, _ := srv.Store.ListLists(ctx, models.ListQuery{Search: "People from the file"})
	if lists.Total != 1 || lists.Items[0].Size != 3 {
		t.Fatalf("new list = %+v", lists.Items)
	}
	dl := c.Get(start.Location() + "/rejected.csv")
	if dl.Status != 200 || !strings.HasPrefix(dl.Header.Get("Content-Type"), "text/csv") || !strings.Contains(dl.Header.Get("Content-Disposition"), "people-rejected.csv") {
		t.Fatalf("download = %d %q %q", dl.Status, dl.Header.Get("Content-Type"), dl.Header.Get("Content-Disposition"))
	}
	records, err := csv.NewReader(strings.NewReader(dl.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 6 || records[0][0] != "line" || records[0][2] != "E-mail" {
		t.Fatalf("downloaded rows = %v", records)
	}
	last := records[len(records)-1]
	if last[0] != "8" || last[2] != "'=cmd@example.com" {
		t.Errorf("formula cell not neutralised: %v", last)
	}
	history := c.Get("/recipients/imports")
	if !strings.Contains(history.Text(`[data-testid="imports-table"]`), "people.csv") {
		t.Errorf("history = %q", history.Text(`[data-testid="imports-table"]`))
	}
}

func TestImportRefusesBadUploads(t *testing.T) {
	srv := webtest.Start(t, webtest.Options{MaxUploadBytes: 1 << 20})
	c, _ := srv.SignedIn(t, "mia", models.RoleMarketer)
	c.Get("/recipients/import")
	if r := c.Upload("/recipients/import", "file", "empty.csv", nil, nil); r.Status != 422 || !strings.Contains(r.Text(`[data-testid="upload-error"]`), "empty") {
		t.Errorf("empty file = %d %q", r.Status, r.Text(`[data-testid="upload-error"]`))
	}
	big := []byte("email\n" + strings.Repeat("someone@example.com\n", 60000))
	if r := c.Upload("/recipients/import", "file", "big.csv", big, nil); r.Status != http.StatusRequestEntityTooLarge || !strings.Contains(r.Text(`[data-testid="upload-error"]`), "1.0 MB limit") {
		t.Errorf("large file = %d %q", r.Status, r.Text(`[data-testid="upload-error"]`))
	}
	// Without the CSRF token the upload is refused before it is read.
	c.CSRF = "forged"
	if r := c.Upload("/recipients/import", "file", "x.csv", []byte("email\na@b.io\n"), nil); r.Status != http.StatusForbidden {
		t.Errorf("forged token = %d", r.Status)
	}
	if n, _ := srv.Store.CountRecipients(context.Background()); n != 0 {
		t.Fatalf("refused uploads imported %d recipients", n)
	}
}

func TestAPIRecipients(t *testing.T) {
	srv := webtest.Start(t)
	op := srv.Operator(t, "mia", models.RoleMarketer)
	token := srv.Token(t, op)
	c := srv.Client(t)
	var created map[string]any
	r := c.API(http.MethodPost, "/api/v1/recipients", token, map[string]any{"email": "Ana@Example.com", "firstName": "Ana", "crmId": "C-1", "visitorIds": []string{ecidA}})
	r.JSON(t, &created)
	if r.Status != http.StatusCreated || created["email"] != "ana@example.com" || created["crmId"] != "C-1" {
		t.Fatalf("create = %d %s", r.Status, r.Body)
	}
	var problem map[string]string
	r = c.API(http.MethodPost, "/api/v1/recipients", token, map[string]any{"email": "bob@example.com", "visitorIds": []string{"123"}})
	r.JSON(t, &problem)
	if r.Status != http.StatusUnprocessableEntity || problem["field"] != "visitorIds" {
		t.Fatalf("bad ECID = %d %s", r.Status, r.Body)
	}
	r = c.API(http.MethodPost, "/api/v1/recipients", token, map[string]any{"email": "ANA@example.com"})
	r.JSON(t, &problem)
	if r.Status != http.StatusConflict || problem["field"] != "email" {
		t.Fatalf("duplicate = %d %s", r.Status, r.Body)
	}
	r = c.API(http.MethodPost, "/api/v1/recipients", token, `{"email": "x@y.io", "phone": "1"}`)
	r.JSON(t, &problem)
	if r.Status != http.StatusBadRequest || problem["field"] != "phone" {
		t.Fatalf("unknown field = %d %s", r.Status, r.Body)
	}
	csvBody := "email,firstName,visitorId\nana@example.com,Anna," + ecidB + "\ncy@example.com,Cy,\nbad,,\n"
	var res struct {
		Created, Updated, Rejected int
		Errors                     []struct {
			Line   int
			Reason string
		}
	}
	r = c.API(http.MethodPost, "/api/v1/recipients/import", token, csvBody, "text/csv")
	r.JSON(t, &res)
	if r.Status != 200 || res.Created != 1 || res.Updated != 1 || res.Rejected != 1 || len(res.Errors) != 1 || res.Errors[0].Line != 4 {
		t.Fatalf("import = %d %s", r.Status, r.Body)
	}
	var page struct {
		Total int
		List  []map[string]any
	}
	r = c.API(http.MethodGet, "/api/v1/recipients?search=ana&pageSize=10", token, nil)
	r.JSON(t, &page)
	if r.Status != 200 || page.Total != 1 || page.List[0]["firstName"] != "Anna" || len(page.List[0]["visitorIds"].([]any)) != 2 {
		t.Fatalf("list = %d %s", r.Status, r.Body)
	}
	id := fmt.Sprint(page.List[0]["id"])
	if r := c.API(http.MethodGet, "/api/v1/recipients/"+id, token, nil); r.Status != 200 || !strings.Contains(r.Body, ecidB) {
		t.Fatalf("get = %d %s", r.Status, r.Body)
	}
	if r := c.API(http.MethodGet, "/api/v1/recipients/999999", token, nil); r.Status != 404 {
		t.Fatalf("missing = %d", r.Status)
	}
	if r := c.API(http.MethodPost, "/api/v1/recipients/import", token, "no header here", "application/json"); r.Status != 400 {
		t.Fatalf("wrong content type = %d %s", r.Status, r.Body)
	}
	r = c.API(http.MethodPost, "/api/v1/recipients/import", token, "firstName,lastName\nA,B\n", "text/csv")
	r.JSON(t, &problem)
	if r.Status != 422 || problem["field"] != "body" || !strings.Contains(problem["error"], "email") {
		t.Fatalf("no email column = %d %s", r.Status, r.Body)
	}
}
