package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

// formulaActor is a system actor whose name a spreadsheet would run.
const formulaActor = `=HYPERLINK("http://evil.example","x")`

// auditCSV downloads the export with a query and returns its rows without
// the header.
func auditCSV(t *testing.T, c *webtest.Client, query url.Values) [][]string {
	t.Helper()
	r := c.Get("/admin/audit.csv?" + query.Encode())
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(r.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export %v: %d %s", query, r.Status, r.Header.Get("Content-Type"))
	}
	rows := readCSV(t, r.Body)
	if got := strings.Join(rows[0], ","); got != "id,at,actor,actor_id,action,target_type,target_id,target_label,summary,before,after" {
		t.Fatalf("header %q", got)
	}
	return rows[1:]
}

func TestAuditFiltersAndCSVExport(t *testing.T) {
	srv := webtest.Start(t)
	ctx := context.Background()
	// Day 1: the test harness creates ana (1 event by "test"), the formula
	// actor creates 2 lists.
	srv.Operator(t, "ana", models.RoleAdmin)
	day1 := srv.Clock.Now().UTC()
	for i := range 2 {
		if _, err := srv.Store.CreateList(ctx, models.SystemActor(formulaActor), models.ListInput{Label: fmt.Sprintf("Early %d", i), InternalName: fmt.Sprintf("EARLY%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Three days later: 205 lists by "bulk" (more than one export batch of
	// 200), one more list by the formula actor, and mia created by "test".
	srv.Clock.Advance(72 * time.Hour)
	day4 := srv.Clock.Now().UTC()
	const bulk = 205
	for i := range bulk {
		if _, err := srv.Store.CreateList(ctx, models.SystemActor("bulk"), models.ListInput{Label: fmt.Sprintf("Bulk %d", i), InternalName: fmt.Sprintf("BULK%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := srv.Store.CreateList(ctx, models.SystemActor(formulaActor), models.ListInput{Label: "Late", InternalName: "LATE"}); err != nil {
		t.Fatal(err)
	}
	srv.Operator(t, "mia", models.RoleMarketer)
	admin := srv.Client(t)
	admin.Login("ana", webtest.Password)
	marketer := srv.Client(t)
	marketer.Login("mia", webtest.Password)

	if r := marketer.Get("/admin/audit.csv"); r.Status != http.StatusForbidden {
		t.Errorf("marketer export: %d, want 403", r.Status)
	}

	d1, d4 := day1.Format(time.DateOnly), day4.Format(time.DateOnly)
	for _, tc := range []struct {
		name  string
		query url.Values
		want  int
	}{
		{"everything", url.Values{}, 1 + 2 + bulk + 1 + 1},
		{"formula actor", url.Values{"actor": {formulaActor}}, 3},
		{"test actor", url.Values{"actor": {"test"}}, 2},
		{"up to day 1", url.Values{"to": {d1}}, 1 + 2},
		{"from day 4", url.Values{"from": {d4}}, bulk + 1 + 1},
		{"from day 4 by the formula actor", url.Values{"from": {d4}, "actor": {formulaActor}}, 1},
		{"day 1 only, by test", url.Values{"from": {d1}, "to": {d1}, "actor": {"test"}}, 1},
		{"bulk, searched", url.Values{"actor": {"bulk"}, "search": {"BULK20"}}, 1 + 5}, // BULK20, BULK200…BULK204
		{"between the days", url.Values{"from": {day1.AddDate(0, 0, 1).Format(time.DateOnly)}, "to": {day1.AddDate(0, 0, 2).Format(time.DateOnly)}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := auditCSV(t, admin, tc.query)
			if len(rows) != tc.want {
				t.Errorf("CSV has %d rows, want %d", len(rows), tc.want)
			}
			seen := map[string]bool{}
			for i, r := range rows {
				if seen[r[0]] {
					t.Fatalf("event %s exported twice", r[0])
				}
				seen[r[0]] = true
				if i > 0 && r[1] > rows[i-1][1] {
					t.Errorf("row %d is newer than the one before it", i)
				}
			}
			page := admin.Get("/admin/audit?" + tc.query.Encode())
			shown := page.Doc.Find(`[data-testid="audit-row"]`).Length()
			if want := min(tc.want, models.DefaultPageSize); page.Status != http.StatusOK || shown != want {
				t.Errorf("page: %d, %d rows, want %d", page.Status, shown, want)
			}
			if href := page.Doc.Find(`[data-testid="audit-csv"]`).AttrOr("href", ""); !strings.HasPrefix(href, "/admin/audit.csv") ||
				(len(tc.query) > 0 && !strings.Contains(href, "?")) {
				t.Errorf("Export CSV link %q does not keep the filters", href)
			}
		})
	}

	// The formula actor's cells are neutralised, and the export link of a
	// filtered page exports the same events.
	rows := auditCSV(t, admin, url.Values{"actor": {formulaActor}})
	for _, r := range rows {
		if r[2] != "'"+formulaActor || r[4] != "list.create" || r[5] != "list" {
			t.Errorf("row %v: actor cell %q not neutralised, or the wrong event", r[:6], r[2])
		}
		if !strings.HasPrefix(r[10], "{") {
			t.Errorf("after cell %q, want the JSON record", r[10])
		}
	}
	page := admin.Get("/admin/audit?" + url.Values{"actor": {formulaActor}}.Encode())
	link := page.Doc.Find(`[data-testid="audit-csv"]`).AttrOr("href", "")
	if viaLink := admin.Get(link); viaLink.Status != http.StatusOK || len(readCSV(t, viaLink.Body))-1 != len(rows) {
		t.Errorf("the page's Export CSV link %q exports something else", link)
	}
	if got := page.Doc.Find(`[data-testid="filter-actor"] option[selected]`).AttrOr("value", ""); got != formulaActor {
		t.Errorf("actor filter shows %q", got)
	}

	// A malformed date is refused, not ignored.
	if r := admin.Get("/admin/audit.csv?from=31/12/2024"); r.Status != http.StatusUnprocessableEntity {
		t.Errorf("malformed date: %d, want 422", r.Status)
	}
	if r := admin.Get("/admin/audit?from=" + d4 + "&to=" + d1); r.Status != http.StatusUnprocessableEntity {
		t.Errorf("end before start: %d, want 422", r.Status)
	}
}
