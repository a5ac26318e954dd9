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

// audienceFixture is n recipients, of which those with i%4 != 0 have a
// visitor ID, and a segment (DPID 100001) with the visitor IDs of those with
// i%2 == 1 plus `unknown` IDs no recipient has. Expected counts are
// computed here, from the generator, not by the code under test.
type audienceFixture struct {
	seg                          library.Segment
	received, reconciled, people int64
}

func fixtureECID(n int) string { return fmt.Sprintf("%038d", 5000000+n) }

func newAudienceFixture(t *testing.T, srv *webtest.Server, n, unknown int) audienceFixture {
	t.Helper()
	ctx := context.Background()
	var f audienceFixture
	var members []string
	for i := range n {
		in := models.RecipientInput{Email: fmt.Sprintf("fixture%d@example.org", i)}
		if i%4 != 0 {
			in.VisitorIDs = []string{fixtureECID(i)}
			if i%2 == 1 {
				members = append(members, fixtureECID(i))
				f.reconciled++
				f.people++
			}
		}
		if _, err := srv.Store.CreateRecipient(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	for k := range unknown {
		members = append(members, fixtureECID(900000+k))
	}
	f.received = int64(len(members))
	if _, err := srv.Library.DataSource(ctx, 100001); err != nil {
		if _, err := srv.Library.CreateDataSource(ctx, library.DataSource{ID: 100001, Name: "Visitors", IDType: library.Cookie}); err != nil {
			t.Fatal(err)
		}
	}
	seg, err := srv.Library.CreateSegment(ctx, library.SegmentInput{Name: "Weekend <b>shoppers</b>", Description: "Visited twice", DataSourceID: 100001})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Library.ReplaceMembers(ctx, seg.SID, library.Slice(members)); err != nil {
		t.Fatal(err)
	}
	f.seg = seg
	return f
}

func waitRunDone(t *testing.T, srv *webtest.Server, id int64) *models.Run {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r, err := srv.Store.RunByID(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Finished() {
			return r
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("run #%d did not finish", id)
	return nil
}

func TestSharedAudienceWindowPreviewSaveAndSync(t *testing.T) {
	srv := webtest.Start(t)
	admin, _ := srv.SignedIn(t, "ana", models.RoleAdmin, models.AudienceLibrary, models.AAMAdmin)
	f := newAudienceFixture(t, srv, 80, 7)
	sid := strconv.FormatInt(f.seg.SID, 10)

	lists := admin.Get("/lists")
	if item := lists.Doc.Find(`[data-testid="new-shared-audience"]`); item.Length() == 0 || item.Is("[aria-disabled]") || item.HasClass("disabled") {
		t.Fatalf("the New menu has no usable Create a shared audience… entry")
	}
	win := admin.Get("/lists/new/shared-audience")
	if win.Status != http.StatusOK || !win.Has(`[data-testid="select-audience"][data-picker-url]`) {
		t.Fatalf("window: %d, picker button %v", win.Status, win.Has(`[data-testid="select-audience"]`))
	}
	if got := win.Doc.Find(`[data-testid="input-internalName"]`).AttrOr("value", ""); !strings.HasPrefix(got, "LST") {
		t.Errorf("internal name %q, want a generated LST<n>", got)
	}

	// Preview: the match rate of the audience through the data source.
	form := url.Values{"audienceSid": {sid}, "dataSource": {models.DefaultDataSourceName}}
	p := admin.HTMX(http.MethodPost, "/lists/shared-audience/preview", "audience-preview", form)
	if p.Status != http.StatusOK {
		t.Fatalf("preview: %d %s", p.Status, p.Body)
	}
	wantRate := fmt.Sprintf("%.1f%%", float64(f.reconciled)*100/float64(f.received))
	if got := p.Text(`[data-testid="preview-rate"]`); got != wantRate {
		t.Errorf("preview rate %q, want %q", got, wantRate)
	}
	if got := p.Text(`[data-testid="preview-recipients"]`); got != strconv.FormatInt(f.people, 10) {
		t.Errorf("preview recipients %q, want %d", got, f.people)
	}
	if strings.Contains(p.Body, "<b>shoppers</b>") {
		t.Errorf("the segment name is not escaped in the preview")
	}
	if p := admin.HTMX(http.MethodPost, "/lists/shared-audience/preview", "audience-preview", url.Values{"dataSource": {models.DefaultDataSourceName}}); !strings.Contains(p.Text(`[data-testid="preview-problem"]`), "Select a shared audience") {
		t.Errorf("preview without an audience: %q", p.Body)
	}

	// Save with missing fields names them and stores nothing.
	bad := admin.Post("/lists/shared-audience", url.Values{"label": {""}, "dataSource": {""}})
	if bad.Status != http.StatusUnprocessableEntity || !bad.Has(`[data-testid="error-sharedAudienceId"]`) || !bad.Has(`[data-testid="error-dataSource"]`) {
		t.Fatalf("save without audience: %d, errors %q %q", bad.Status, bad.Text(`[data-testid="error-sharedAudienceId"]`), bad.Text(`[data-testid="error-dataSource"]`))
	}
	if page, _ := srv.Store.ListLists(context.Background(), models.ListQuery{}); page.Total != 0 {
		t.Fatalf("a refused save stored %d lists", page.Total)
	}

	saved := admin.Post("/lists/shared-audience", url.Values{"label": {""}, "internalName": {"LSTWEEKEND"}, "audienceSid": {sid},
		"dataSource": {models.DefaultDataSourceName}, "syncEveryMinutes": {"30"}})
	if saved.Status != http.StatusSeeOther {
		t.Fatalf("save: %d %s", saved.Status, saved.Text(".field-error"))
	}
	l, err := srv.Store.ListByID(context.Background(), mustID(t, saved.Location()))
	if err != nil {
		t.Fatal(err)
	}
	if l.Label != f.seg.Name || l.Description != f.seg.Description || l.SyncEveryMinutes != 30 || l.Type != models.SharedAudienceList {
		t.Errorf("saved list %+v", l)
	}
	run := waitRunDone(t, srv, *l.LastRunID)
	if run.Status != models.RunSucceeded || run.Received != f.received || run.Reconciled != f.reconciled || run.NotRecognized != f.received-f.reconciled ||
		run.Added != f.people || run.ListSize != f.people {
		t.Fatalf("first run: %+v", run)
	}
	if n := memberCount(t, srv, l.ID); n != f.people {
		t.Errorf("list has %d members, want %d", n, f.people)
	}

	// The Lists table's last-sync cell: the run's status and match rate,
	// computed here from the fixture's counts.
	rate := fmt.Sprintf("%.1f%% matched", 100*float64(f.reconciled)/float64(f.received))
	cell := admin.Get("/lists").Text(`[data-testid="list-` + l.InternalName + `"] [data-testid="list-last-sync"]`)
	if !strings.Contains(cell, "Succeeded") || !strings.Contains(cell, rate) {
		t.Errorf("the Lists table's last sync reads %q, want Succeeded and %s", cell, rate)
	}

	page := admin.Get(saved.Location())
	if got := page.Text(`[data-testid="list-size"]`); got != strconv.FormatInt(f.people, 10) {
		t.Errorf("page size %q", got)
	}
	if !strings.Contains(page.Text(`[data-testid="list-audience"]`), "Weekend <b>shoppers</b>") {
		t.Errorf("audience shown as %q", page.Text(`[data-testid="list-audience"]`))
	}
	if got := page.Doc.Find(`[data-testid="run-row"]`).Length(); got != 1 {
		t.Errorf("%d runs in the history, want 1", got)
	}
	if got := page.Text(`[data-testid="run-not-recognized"]`); got != strconv.FormatInt(f.received-f.reconciled, 10) {
		t.Errorf("history not recognised %q", got)
	}
	if !page.Has(`[data-testid="match-trend"]`) {
		t.Errorf("no match-rate trend")
	}

	// The run's page and its CSV of identifiers not carried.
	rp := admin.Get(fmt.Sprintf("/lists/%d/runs/%d", l.ID, run.ID))
	if got := rp.Doc.Find(`[data-testid="unrecognized-table"] tbody tr`).Length(); got != int(f.received-f.reconciled) {
		t.Errorf("run page lists %d unrecognised identifiers, want %d", got, f.received-f.reconciled)
	}
	csv := admin.Get(fmt.Sprintf("/lists/%d/runs/%d/unrecognized.csv", l.ID, run.ID))
	if csv.Status != http.StatusOK || strings.Count(csv.Body, "\n") != int(f.received-f.reconciled)+1 || !strings.Contains(csv.Body, models.ReasonNoRecipient) {
		t.Errorf("CSV: %d\n%s", csv.Status, csv.Body)
	}

	// Synchronize now (HTMX) answers the status panel, polling until done,
	// then tells the page to refresh.
	now := admin.HTMX(http.MethodPost, fmt.Sprintf("/lists/%d/sync", l.ID), "sync-status", url.Values{})
	if now.Status != http.StatusOK || !now.Has(`[data-testid="sync-status"][hx-trigger="every 1s"]`) && now.Doc.Find(`[data-testid="sync-status"]`).AttrOr("data-status", "") != "succeeded" {
		t.Fatalf("sync now: %d %s", now.Status, now.Body)
	}
	fresh, _ := srv.Store.ListByID(context.Background(), l.ID)
	second := waitRunDone(t, srv, *fresh.LastRunID)
	if second.ID == run.ID || second.Added != 0 || second.Removed != 0 || second.Trigger != models.TriggerManual {
		t.Errorf("second run: %+v", second)
	}
	st := admin.HTMX(http.MethodGet, fmt.Sprintf("/lists/%d/sync-status?watch=%d", l.ID, second.ID), "sync-status", nil)
	if st.Header.Get("HX-Trigger") != "list-synced" {
		t.Errorf("the status of a finished run does not tell the page (HX-Trigger %q)", st.Header.Get("HX-Trigger"))
	}

	// Schedule.
	if r := admin.Post(fmt.Sprintf("/lists/%d/schedule", l.ID), url.Values{"syncEveryMinutes": {"0"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("schedule: %d", r.Status)
	}
	if l2, _ := srv.Store.ListByID(context.Background(), l.ID); l2.SyncEveryMinutes != 0 || l2.NextSyncAt != nil {
		t.Errorf("schedule off: every %d next %v", l2.SyncEveryMinutes, l2.NextSyncAt)
	}
	if r := admin.Post(fmt.Sprintf("/lists/%d/schedule", l.ID), url.Values{"syncEveryMinutes": {"2"}}); r.Status != http.StatusUnprocessableEntity {
		t.Errorf("a 2-minute schedule: %d, want 422", r.Status)
	}

	// A failed run shows its error and Retry works.
	if _, err := srv.Library.UpdateSegment(context.Background(), f.seg.SID, library.SegmentInput{Name: f.seg.Name, DataSourceID: 100001, Status: library.Inactive}); err != nil {
		t.Fatal(err)
	}
	admin.Post(fmt.Sprintf("/lists/%d/sync", l.ID), url.Values{})
	fresh, _ = srv.Store.ListByID(context.Background(), l.ID)
	failed := waitRunDone(t, srv, *fresh.LastRunID)
	if failed.Status != models.RunFailed {
		t.Fatalf("run on an inactive audience: %s", failed.Status)
	}
	page = admin.Get(saved.Location())
	if !strings.Contains(page.Text(`[data-testid="sync-error"]`), "inactive") || !page.Has(`[data-testid="sync-retry"]`) {
		t.Errorf("failed run: error %q, retry button %v", page.Text(`[data-testid="sync-error"]`), page.Has(`[data-testid="sync-retry"]`))
	}
	if n := memberCount(t, srv, l.ID); n != f.people {
		t.Errorf("a failed run left %d members, want %d", n, f.people)
	}
	if _, err := srv.Library.UpdateSegment(context.Background(), f.seg.SID, library.SegmentInput{Name: f.seg.Name, DataSourceID: 100001, Status: library.Active}); err != nil {
		t.Fatal(err)
	}
	retry := admin.HTMX(http.MethodPost, fmt.Sprintf("/lists/%d/runs/%d/retry", l.ID, failed.ID), "sync-status", url.Values{})
	if retry.Status != http.StatusOK {
		t.Fatalf("retry: %d %s", retry.Status, retry.Body)
	}
	fresh, _ = srv.Store.ListByID(context.Background(), l.ID)
	if again := waitRunDone(t, srv, *fresh.LastRunID); again.Status != models.RunSucceeded || again.RetryOf == nil || *again.RetryOf != failed.ID {
		t.Errorf("retried run: %+v", again)
	}
}

func mustID(t *testing.T, location string) int64 {
	t.Helper()
	id, err := strconv.ParseInt(location[strings.LastIndex(location, "/")+1:], 10, 64)
	if err != nil {
		t.Fatalf("no id in %q", location)
	}
	return id
}

func TestSharedAudienceNeedsBothEntitlements(t *testing.T) {
	srv := webtest.Start(t)
	f := newAudienceFixture(t, srv, 8, 0)
	owner, _ := srv.SignedIn(t, "ana", models.RoleAdmin, models.AudienceLibrary, models.AAMAdmin)
	saved := owner.Post("/lists/shared-audience", url.Values{"label": {"Shared"}, "audienceSid": {strconv.FormatInt(f.seg.SID, 10)}, "dataSource": {models.DefaultDataSourceName}})
	if saved.Status != http.StatusSeeOther {
		t.Fatalf("save: %d", saved.Status)
	}
	listID := mustID(t, saved.Location())

	for _, tc := range []struct {
		login string
		role  models.Role
		ents  []models.Entitlement
	}{
		{"libonly", models.RoleMarketer, []models.Entitlement{models.AudienceLibrary}},
		{"aamonly", models.RoleMarketer, []models.Entitlement{models.AAMAdmin}},
		{"plainadmin", models.RoleAdmin, nil},
	} {
		t.Run(tc.login, func(t *testing.T) {
			c, _ := srv.SignedIn(t, tc.login, tc.role, tc.ents...)
			menu := c.Get("/lists").Doc.Find(`[data-testid="new-shared-audience"]`)
			if !strings.Contains(menu.Parent().Text()+menu.Text(), "administrator grants them") {
				t.Errorf("the menu entry does not say why it is unavailable: %q", menu.Parent().Text())
			}
			win := c.Get("/lists/new/shared-audience")
			if win.Status != http.StatusForbidden || !strings.Contains(win.Body, "administrator") {
				t.Errorf("window: %d", win.Status)
			}
			for i, r := range []*webtest.Response{
				c.Post("/lists/shared-audience", url.Values{"label": {"X"}, "audienceSid": {strconv.FormatInt(f.seg.SID, 10)}, "dataSource": {models.DefaultDataSourceName}}),
				c.HTMX(http.MethodPost, "/lists/shared-audience/preview", "audience-preview", url.Values{"audienceSid": {"1"}, "dataSource": {models.DefaultDataSourceName}}),
				c.HTMX(http.MethodPost, fmt.Sprintf("/lists/%d/sync", listID), "sync-status", url.Values{}),
				c.Post(fmt.Sprintf("/lists/%d/schedule", listID), url.Values{"syncEveryMinutes": {"60"}}),
				c.Post(fmt.Sprintf("/lists/%d/runs/1/retry", listID), url.Values{}),
			} {
				if r.Status != http.StatusForbidden {
					t.Errorf("request %d (create, preview, sync, schedule, retry): %d, want 403", i, r.Status)
				}
			}
			page := c.Get(fmt.Sprintf("/lists/%d", listID))
			if page.Status != http.StatusOK || !page.Has(`[data-testid="sync-now"][disabled]`) {
				t.Errorf("list page: %d, disabled Synchronize now %v", page.Status, page.Has(`[data-testid="sync-now"][disabled]`))
			}
		})
	}
	if page, _ := srv.Store.ListLists(context.Background(), models.ListQuery{}); page.Total != 1 {
		t.Errorf("refused saves stored lists: %d in all", page.Total)
	}
}
