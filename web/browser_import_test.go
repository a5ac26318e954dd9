package web_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

// importFile writes a CSV of rows recipients into dir with a few bad rows at
// known lines, and returns its path and the reason expected for each bad
// line.
func importFile(t *testing.T, dir string, rows int) (string, map[int]string) {
	t.Helper()
	bad := map[int]string{ // line: the start of the reason shown
		50:   "email: ",
		777:  "email: the e-mail address is empty",
		1200: "visitorId: ",
		1800: "crmId: ",
		2222: "email: duplicate of line 2",
		2999: "email: ",
		3001: "visitorId: ",
	}
	var b strings.Builder
	b.WriteString("email,firstName,lastName,crmId,visitorId\r\n")
	for i := range rows {
		line := i + 2
		email, first, crm, ecid := fmt.Sprintf("person%05d@example.com", i), fmt.Sprintf("Person%d", i), fmt.Sprintf("CRM-%05d", i), fmt.Sprintf("%038d", i+1)
		switch line {
		case 50:
			email = "not-an-email"
		case 777:
			email = ""
		case 1200:
			ecid = ecid[1:]
		case 1800:
			crm = "AB:12"
		case 2222:
			email = "PERSON00000@example.com"
		case 2999:
			email = "someone@localhost"
		case 3001:
			ecid = strings.Repeat("ab", 19)
		}
		fmt.Fprintf(&b, "%s,%s,Tester,%s,%s\r\n", email, first, crm, ecid)
	}
	path := filepath.Join(dir, "spring-contacts.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	for line := range bad {
		if line > rows+1 {
			t.Fatalf("bad line %d is past the end of the file", line)
		}
	}
	return path, bad
}

func TestBrowserMarketerImportsRecipients(t *testing.T) {
	srv := webtest.Start(t)
	srv.Operator(t, "mia", models.RoleMarketer)
	const rows = 3000
	path, bad := importFile(t, t.TempDir(), rows)
	ctx := webtest.Browser(t)
	browserLogin(t, ctx, srv.URL, "mia")

	// Recipients > New > Import recipients…
	err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`[data-testid="nav-recipients"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="recipients-table"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="new-menu"] summary`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="import-recipients"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="import-recipients"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="upload-form"]`)),
		chromedp.SetUploadFiles(chromedp.CSS(`#field-file`), []string{path}),
		chromedp.Click(chromedp.CSS(`[data-testid="upload-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="mapping-form"]`)),
	)
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	// The preview shows the first rows and proposes the mapping.
	preview, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="preview-table"] tbody tr').length`))
	if err != nil || preview != 10 {
		t.Errorf("preview rows = %d, %v", preview, err)
	}
	mapping, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll('[data-testid="preview-table"] thead select')).map(s => s.value)`))
	if err != nil || !slices.Equal(mapping, []string{"email", "firstName", "lastName", "crmId", "visitorId"}) {
		t.Errorf("proposed mapping = %v, %v", mapping, err)
	}
	delim, _ := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`#field-delimiter`)))
	if delim != "," {
		t.Errorf("delimiter = %q", delim)
	}
	first, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="preview-table"] tbody tr td`)))
	if first != "person00000@example.com" {
		t.Errorf("first cell = %q", first)
	}
	webtest.Screenshot(t, ctx, "import-mapping")

	// Start: the import page shows a progress bar that HTMX refreshes in
	// place until the import has finished.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`[data-testid="start-import"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="import-progress"]`)),
		chromedp.Evaluate[chromedp.Void](`window.__noReload = true; void 0`),
	); err != nil {
		t.Fatalf("start: %v", err)
	}
	bar, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`[data-testid="progress-bar"]`), "max"))
	if err != nil || bar.Value != "100" {
		t.Fatalf("progress bar = %+v, %v", bar, err)
	}
	initial, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`[data-testid="import-progress"]`), "data-status"))
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if !strings.Contains(loc, "/recipients/imports/") {
		t.Fatalf("after start the browser is at %s", loc)
	}
	wait, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(wait, chromedp.WaitVisible(chromedp.CSS(`[data-testid="import-progress"][data-status="succeeded"]`))); err != nil {
		t.Fatalf("the import did not finish: %v", err)
	}
	kept, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__noReload === true`))
	if err != nil || !kept {
		t.Fatalf("the page was reloaded while polling (%v)", err)
	}
	if initial.Value == "succeeded" {
		t.Log("the import had finished before the page first showed: no poll was needed")
	}
	status, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="import-status"]`)))
	value, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`[data-testid="progress-bar"]`), "value"))
	if status != "Finished" || value.Value != "100" {
		t.Errorf("status %q, progress %q", status, value.Value)
	}

	// The counts are the test's own.
	wantRejected := len(bad)
	wantCreated := rows - wantRejected
	for what, want := range map[string]int{"created": wantCreated, "updated": 0, "rejected": wantRejected} {
		got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="count-`+what+`"]`)))
		if err != nil || got != strconv.Itoa(want) {
			t.Errorf("%s = %q, want %d (%v)", what, got, want, err)
		}
	}
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[[][]string](
		`Array.from(document.querySelectorAll('[data-testid="rejected-row"]')).map(tr => [tr.cells[0].textContent.trim(), tr.cells[1].textContent.trim()])`))
	if err != nil || len(shown) != wantRejected {
		t.Fatalf("rejected rows shown = %v, %v", shown, err)
	}
	prev := 0
	for _, row := range shown {
		line, err := strconv.Atoi(row[0])
		if err != nil || line <= prev || !strings.HasPrefix(row[1], bad[line]) || bad[line] == "" {
			t.Errorf("rejected row %q, want line %d's reason to start with %q", row, line, bad[line])
		}
		prev = line
	}
	href, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`[data-testid="download-rejected"]`), "href"))
	if err != nil || !href.Exists || !strings.HasSuffix(href.Value, "/rejected.csv") {
		t.Errorf("download link = %+v, %v", href, err)
	}
	webtest.Screenshot(t, ctx, "import-result")

	if n, _ := srv.Store.CountRecipients(context.Background()); n != int64(wantCreated) {
		t.Fatalf("recipients stored = %d, want %d", n, wantCreated)
	}
	// The recipients list now pages through them.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/recipients"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="recipients-table"]`))); err != nil {
		t.Fatal(err)
	}
	pager, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[data-testid="pager"] .pager-info`)))
	if !strings.Contains(pager, fmt.Sprintf("of %d", wantCreated)) {
		t.Errorf("pager = %q", pager)
	}
}
