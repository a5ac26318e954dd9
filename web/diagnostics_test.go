package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

// diagnosticsSections are the checks of the page, by data-testid.
var diagnosticsSections = []string{"database", "processes", "queue", "failed-runs", "accounts", "datasources", "match-rates"}

func checkStatus(r *webtest.Response, key string) string {
	return r.Doc.Find(`[data-testid="check-`+key+`"]`).AttrOr("data-status", "")
}

func TestDiagnosticsChecklist(t *testing.T) {
	srv := webtest.Start(t)
	ctx := context.Background()
	admin, _ := srv.SignedIn(t, "ana", models.RoleAdmin, models.AudienceLibrary, models.AAMAdmin)
	marketer, _ := srv.SignedIn(t, "mark", models.RoleMarketer, models.AudienceLibrary, models.AAMAdmin)

	// Marketers are refused the page and its form, and do not see the entry.
	if r := marketer.Get("/admin/diagnostics"); r.Status != http.StatusForbidden {
		t.Errorf("marketer: %d, want 403", r.Status)
	}
	if r := marketer.Post("/admin/diagnostics/webhook", url.Values{"url": {"https://example.org/hook"}}); r.Status != http.StatusForbidden {
		t.Errorf("marketer sets the global webhook: %d, want 403", r.Status)
	}
	if marketer.Get("/").Has(`[data-testid="nav-diagnostics"]`) {
		t.Errorf("a marketer sees the Diagnostics entry")
	}
	if !admin.Get("/").Has(`[data-testid="nav-diagnostics"][href="/admin/diagnostics"]`) {
		t.Errorf("an administrator has no Diagnostics entry")
	}

	// Data sources: one matched with the library's 100001, one pointing at
	// a DPID the library lacks, and the built-in one without an AAM ID.
	f := newAudienceFixture(t, srv, 24, 0)
	for _, in := range []models.DataSourceInput{
		{Label: "Visitors matched", InternalName: "visitorsMatched", IDType: "visitorId", ReconciliationKey: "visitorId", AAMDataSourceID: "100001"},
		{Label: "CRM unmatched", InternalName: "crmUnmatched", IDType: "declaredId", ReconciliationKey: "email", IntegrationCode: "AdobeCampaignID", AAMDataSourceID: "424242"},
	} {
		if _, err := srv.Store.CreateDataSource(ctx, models.SystemActor("test"), in); err != nil {
			t.Fatal(err)
		}
	}

	// No process is recorded yet: no worker is seen.
	page := admin.Get("/admin/diagnostics")
	if page.Status != http.StatusOK {
		t.Fatalf("diagnostics: %d", page.Status)
	}
	for _, key := range diagnosticsSections {
		sec := page.Doc.Find(`[data-testid="check-` + key + `"]`)
		if sec.Length() != 1 || sec.Find(`[data-testid="check-status"]`).Length() != 1 || strings.TrimSpace(sec.Find(`[data-testid="check-advice"]`).Text()) == "" {
			t.Errorf("section %s: %d found, with a status and advice?", key, sec.Length())
		}
	}
	if got := checkStatus(page, "processes"); got != "warning" || !strings.Contains(page.Text(`[data-testid="check-processes"] [data-testid="check-advice"]`), "No live process runs the worker") {
		t.Errorf("without a worker: %s %q", got, page.Text(`[data-testid="check-processes"]`))
	}
	migrations, err := models.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if got := page.Text(`[data-testid="check-database"] [data-testid="check-summary"]`); checkStatus(page, "database") != "ok" ||
		!strings.Contains(got, fmt.Sprintf("%d migrations applied", len(migrations))) {
		t.Errorf("database: %s %q", checkStatus(page, "database"), got)
	}
	if got := page.Doc.Find(`[data-testid="account-row"]`).Length(); got != 2 || checkStatus(page, "accounts") != "ok" {
		t.Errorf("accounts: %d rows, %s", got, checkStatus(page, "accounts"))
	}
	for name, want := range map[string]string{"visitorsMatched": "ok", "crmUnmatched": "warning", models.DefaultDataSourceName: "warning"} {
		row := page.Doc.Find(`[data-testid="datasource-row"][data-name="` + name + `"]`)
		if row.Length() != 1 || row.AttrOr("data-status", "") != want {
			t.Errorf("data source %s: %d rows, status %q, want %s", name, row.Length(), row.AttrOr("data-status", ""), want)
		}
		if want == "warning" && !strings.Contains(row.Text(), "set its AAM Data source ID") {
			t.Errorf("data source %s does not say to set its AAM Data source ID: %q", name, row.Text())
		}
	}
	if checkStatus(page, "datasources") != "warning" {
		t.Errorf("data sources check: %s, want warning", checkStatus(page, "datasources"))
	}
	if checkStatus(page, "failed-runs") != "ok" || page.Has(`[data-testid="failed-run-row"]`) {
		t.Errorf("failed runs before any: %s", checkStatus(page, "failed-runs"))
	}

	// A live worker, and one that stopped. Inserted in SQL: Store.RegisterProcess
	// maps Process.PID to a column p_id the table does not have.
	insertProcess(t, srv, "host-a-1", "worker", nil)
	stopped := srv.Clock.Now()
	insertProcess(t, srv, "host-b-2", "console+worker", &stopped)

	// A list that synced, then failed on its audience made inactive.
	saved := admin.Post("/lists/shared-audience", url.Values{"label": {"Weekend"}, "audienceSid": {strconv.FormatInt(f.seg.SID, 10)}, "dataSource": {models.DefaultDataSourceName}})
	if saved.Status != http.StatusSeeOther {
		t.Fatalf("save: %d", saved.Status)
	}
	listID := mustID(t, saved.Location())
	l, err := srv.Store.ListByID(ctx, listID)
	if err != nil {
		t.Fatal(err)
	}
	if first := waitRunDone(t, srv, *l.LastRunID); first.Status != models.RunSucceeded {
		t.Fatalf("first run: %+v", first)
	}
	failed := failSync(t, srv, admin, f.seg, listID)

	page = admin.Get("/admin/diagnostics")
	if got := checkStatus(page, "processes"); got != "ok" {
		t.Errorf("with a live worker: %s", got)
	}
	if got := page.Doc.Find(`[data-testid="process-row"]`).Length(); got != 2 {
		t.Errorf("%d processes listed, want 2", got)
	}
	if got := page.Doc.Find(`[data-testid="process-row"][data-alive]`).Length(); got != 1 {
		t.Errorf("%d processes alive, want 1", got)
	}
	rows := page.Doc.Find(`[data-testid="failed-run-row"]`)
	if checkStatus(page, "failed-runs") != "warning" || rows.Length() != 1 {
		t.Fatalf("failed runs: %s, %d rows", checkStatus(page, "failed-runs"), rows.Length())
	}
	if href := rows.Find(`[data-testid="failed-run-link"]`).AttrOr("href", ""); href != fmt.Sprintf("/lists/%d/runs/%d", listID, failed.ID) {
		t.Errorf("failed run links to %q", href)
	}
	if got := rows.Find(`[data-testid="failed-run-error"]`).Text(); !strings.Contains(got, "inactive") || !strings.Contains(rows.Text(), "Weekend") {
		t.Errorf("failed run row: %q", rows.Text())
	}
	if !strings.Contains(page.Text(`[data-testid="check-failed-runs"] [data-testid="check-summary"]`), "1 run failed") {
		t.Errorf("failed runs summary: %q", page.Text(`[data-testid="check-failed-runs"] [data-testid="check-summary"]`))
	}
	// One succeeded run: nothing to compare, no drop.
	if checkStatus(page, "match-rates") != "ok" || page.Has(`[data-testid="drop-row"]`) {
		t.Errorf("match rates after one success: %s", checkStatus(page, "match-rates"))
	}
	// Every state of the job queue is shown with its count (River marks
	// jobs completed asynchronously, so the counts themselves move).
	for _, state := range []string{"available", "scheduled", "running", "retryable", "pending", "completed", "cancelled", "discarded"} {
		if _, err := strconv.Atoi(page.Text(`[data-testid="queue-` + state + `"]`)); err != nil {
			t.Errorf("queue state %s shows %q", state, page.Text(`[data-testid="queue-`+state+`"]`))
		}
	}
}

// failSync makes a list's audience inactive, synchronises the list and
// returns the failed run; the audience is active again afterwards.
func failSync(t *testing.T, srv *webtest.Server, c *webtest.Client, seg library.Segment, listID int64) *models.Run {
	t.Helper()
	ctx := context.Background()
	if _, err := srv.Library.UpdateSegment(ctx, seg.SID, library.SegmentInput{Name: seg.Name, DataSourceID: seg.DataSourceID, Status: library.Inactive}); err != nil {
		t.Fatal(err)
	}
	before, err := srv.Store.ListByID(ctx, listID)
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Post(fmt.Sprintf("/lists/%d/sync", listID), url.Values{}); r.Status != http.StatusSeeOther {
		t.Fatalf("sync: %d", r.Status)
	}
	run := nextRun(t, srv, listID, *before.LastRunID)
	if run.Status != models.RunFailed {
		t.Fatalf("run on an inactive audience: %+v", run)
	}
	if _, err := srv.Library.UpdateSegment(ctx, seg.SID, library.SegmentInput{Name: seg.Name, DataSourceID: seg.DataSourceID, Status: library.Active}); err != nil {
		t.Fatal(err)
	}
	return run
}

// nextRun waits for the first run of a list after a run to finish.
func nextRun(t *testing.T, srv *webtest.Server, listID, after int64) *models.Run {
	t.Helper()
	var id int64
	eventually(t, "a new run of the list", func() bool {
		l, err := srv.Store.ListByID(context.Background(), listID)
		if err != nil {
			t.Fatal(err)
		}
		if l.LastRunID != nil && *l.LastRunID != after {
			id = *l.LastRunID
			return true
		}
		return false
	})
	return waitRunDone(t, srv, id)
}

// insertProcess records a process seen now, as a process's heartbeat does.
func insertProcess(t *testing.T, srv *webtest.Server, id, role string, stoppedAt *time.Time) {
	t.Helper()
	db, err := srv.Store.SQL()
	if err != nil {
		t.Fatal(err)
	}
	now := srv.Clock.Now()
	if _, err := db.Exec(`INSERT INTO processes (id, host, pid, role, started_at, seen_at, stopped_at) VALUES ($1, $2, $3, $4, $5, $5, $6)`,
		id, "host-"+id, 4242, role, now, stoppedAt); err != nil {
		t.Fatalf("insert process %s: %v", id, err)
	}
}
