package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

// apiListsWorld is a console with recipients, an audience in the embedded
// library over some of their visitor IDs, an AMC data source reading that
// audience's DPID, and what the first import of the audience must give,
// worked out from the generated data alone.
type apiListsWorld struct {
	srv *webtest.Server
	c   *webtest.Client
	// Tokens: importer holds audience-library and aam-admin, reader only
	// audience-library, nobody neither.
	importer, reader, nobody string
	seg                      library.Segment

	received, reconciled int64
	members              []int64  // recipient ids, sorted
	unknown              []string // members no recipient has, sorted
}

const apiListsDPID = 100001

func apiListsVisitor(n int) string { return fmt.Sprintf("%038d", 7000000+n) }

// newAPIListsWorld makes n recipients: those with i%3 != 0 have a visitor
// ID and those with i%5 == 1 a second one. The audience holds every visitor
// ID of the recipients with i%2 == 0, and 7 IDs nobody has.
func newAPIListsWorld(t *testing.T, n int) *apiListsWorld {
	t.Helper()
	ctx := context.Background()
	srv := webtest.Start(t)
	w := &apiListsWorld{srv: srv, c: srv.Client(t),
		importer: srv.Token(t, srv.Operator(t, "ana", models.RoleMarketer, models.AudienceLibrary, models.AAMAdmin)),
		reader:   srv.Token(t, srv.Operator(t, "mia", models.RoleMarketer, models.AudienceLibrary)),
		nobody:   srv.Token(t, srv.Operator(t, "bob", models.RoleMarketer))}
	var audience []string
	for i := range n {
		in := models.RecipientInput{Email: fmt.Sprintf("api%03d@example.com", i)}
		if i%3 != 0 {
			in.VisitorIDs = append(in.VisitorIDs, apiListsVisitor(i))
		}
		if i%5 == 1 {
			in.VisitorIDs = append(in.VisitorIDs, apiListsVisitor(500+i))
		}
		r, err := srv.Store.CreateRecipient(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 && len(in.VisitorIDs) > 0 {
			audience = append(audience, in.VisitorIDs...)
			w.reconciled += int64(len(in.VisitorIDs))
			w.members = append(w.members, r.ID)
		}
	}
	for k := range 7 {
		w.unknown = append(w.unknown, apiListsVisitor(900+k))
	}
	audience = append(audience, w.unknown...)
	w.received = int64(len(audience))
	slices.Sort(w.members)
	slices.Sort(w.unknown)

	if _, err := srv.Library.CreateDataSource(ctx, library.DataSource{ID: apiListsDPID, Name: "Visitors", IDType: library.Cookie}); err != nil {
		t.Fatal(err)
	}
	seg, err := srv.Library.CreateSegment(ctx, library.SegmentInput{Name: "Loyal visitors", Description: "From the web site", DataSourceID: apiListsDPID})
	if err != nil {
		t.Fatal(err)
	}
	res, err := srv.Library.ReplaceMembers(ctx, seg.SID, library.Slice(audience))
	if err != nil || res.Rejected > 0 {
		t.Fatalf("audience members: %+v %v", res, err)
	}
	w.seg = seg
	if _, err := srv.Store.CreateDataSource(ctx, models.SystemActor("test"), models.DataSourceInput{Label: "API visitors", InternalName: "apiVisitors",
		IDType: "visitorId", ReconciliationKey: "visitorId", IntegrationCode: "AdobeCampaignID", AAMDataSourceID: fmt.Sprint(apiListsDPID)}); err != nil {
		t.Fatal(err)
	}
	return w
}

// apiRun is a run as the API shows it.
type apiRun struct {
	ID      int64            `json:"id"`
	Kind    string           `json:"kind"`
	Status  string           `json:"status"`
	Subject map[string]int64 `json:"subject"`
	Counts  struct {
		Received, Reconciled, NotRecognized, Added, Removed, Exported, Complement int64
	} `json:"counts"`
	Error      *string `json:"error"`
	QueuedAt   *string `json:"queuedAt"`
	StartedAt  *string `json:"startedAt"`
	FinishedAt *string `json:"finishedAt"`
	Trigger    string  `json:"trigger"`
	Progress   struct {
		Phase       string
		Done, Total int64
	} `json:"progress"`
	ListSize  int64   `json:"listSize"`
	MatchRate float64 `json:"matchRate"`
	RetryOf   *int64  `json:"retryOf"`
	Reasons   struct {
		NoRecipient, Malformed, HashMismatch int64
	} `json:"reasons"`
}

// apiList is a list as the API shows it.
type apiList struct {
	ID             int64  `json:"id"`
	Label          string `json:"label"`
	InternalName   string `json:"internalName"`
	Type           string `json:"type"`
	Description    string `json:"description"`
	Size           int64  `json:"size"`
	SharedAudience *struct {
		SID  int64  `json:"sid"`
		Name string `json:"name"`
	} `json:"sharedAudience"`
	DataSource       *string `json:"dataSource"`
	LastRun          *apiRun `json:"lastRun"`
	SyncEveryMinutes *int    `json:"syncEveryMinutes"`
	NextSyncAt       *string `json:"nextSyncAt"`
	RunID            int64   `json:"runId"`
}

type apiError struct {
	Error string `json:"error"`
	Field string `json:"field"`
}

// wantKeys fails unless a JSON object has exactly these keys.
func wantKeys(t *testing.T, what string, raw []byte, want ...string) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s is not a JSON object: %s", what, raw)
	}
	got := slices.Sorted(maps.Keys(m))
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s keys:\n got %v\nwant %v", what, got, want)
	}
}

var runKeys = []string{"id", "kind", "status", "subject", "counts", "error", "queuedAt", "startedAt", "finishedAt",
	"trigger", "progress", "listSize", "matchRate", "retryOf", "reasons"}

func rfc3339(t *testing.T, what string, s *string) time.Time {
	t.Helper()
	if s == nil {
		t.Fatalf("%s is null", what)
	}
	v, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		t.Fatalf("%s = %q is not RFC 3339: %v", what, *s, err)
	}
	return v
}

// call sends an API request and decodes its answer, failing unless the
// status is the one expected.
func (w *apiListsWorld) call(t *testing.T, method, path, token string, body any, status int, out any) *webtest.Response {
	t.Helper()
	r := w.c.API(method, path, token, body)
	if r.Status != status {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, r.Status, status, r.Body)
	}
	if out != nil {
		r.JSON(t, out)
	}
	return r
}

// refused checks an error answer: its status, field and a word of its
// message.
func (w *apiListsWorld) refused(t *testing.T, method, path, token string, body any, status int, field, says string) {
	t.Helper()
	var e apiError
	w.call(t, method, path, token, body, status, &e)
	if e.Field != field || !strings.Contains(e.Error, says) {
		t.Errorf("%s %s: error %q field %q, want field %q and a message with %q", method, path, e.Error, e.Field, field, says)
	}
}

// waitRun polls GET /api/v1/runs/{id} until the run has finished.
func (w *apiListsWorld) waitRun(t *testing.T, id int64) apiRun {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var run apiRun
		w.call(t, http.MethodGet, fmt.Sprintf("/api/v1/runs/%d", id), w.reader, nil, http.StatusOK, &run)
		switch run.Status {
		case "succeeded", "failed", "cancelled":
			return run
		case "queued", "running":
		default:
			t.Fatalf("run #%d has status %q", id, run.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("run #%d did not finish in time", id)
	return apiRun{}
}

// createList posts a shared-audience list on the world's audience.
func (w *apiListsWorld) createList(t *testing.T, name string) apiList {
	t.Helper()
	var l apiList
	w.call(t, http.MethodPost, "/api/v1/lists", w.importer, map[string]any{"label": "Loyal " + name, "internalName": name,
		"description": "Imported by the API", "sharedAudienceId": w.seg.SID, "dataSource": "apiVisitors", "syncEveryMinutes": 30},
		http.StatusCreated, &l)
	if l.RunID == 0 || l.LastRun == nil || l.LastRun.ID != l.RunID {
		t.Fatalf("created list has runId %d and lastRun %+v", l.RunID, l.LastRun)
	}
	return l
}

func TestAPIListsImportASharedAudience(t *testing.T) {
	w := newAPIListsWorld(t, 60)
	created := w.call(t, http.MethodPost, "/api/v1/lists", w.importer, map[string]any{"label": "Loyal", "internalName": "loyal",
		"description": "Imported by the API", "sharedAudienceId": w.seg.SID, "dataSource": "apiVisitors", "syncEveryMinutes": 30},
		http.StatusCreated, nil)
	wantKeys(t, "created list", []byte(created.Body), "id", "label", "internalName", "type", "description", "size", "sharedAudience",
		"dataSource", "lastRun", "syncEveryMinutes", "nextSyncAt", "createdAt", "updatedAt", "runId")
	var l apiList
	created.JSON(t, &l)
	if created.Location() != fmt.Sprintf("/api/v1/lists/%d", l.ID) {
		t.Errorf("Location = %q", created.Location())
	}
	if l.Type != "sharedAudience" || l.Label != "Loyal" || l.InternalName != "loyal" || l.SharedAudience == nil ||
		l.SharedAudience.SID != w.seg.SID || l.SharedAudience.Name != w.seg.Name || l.DataSource == nil || *l.DataSource != "apiVisitors" ||
		l.SyncEveryMinutes == nil || *l.SyncEveryMinutes != 30 || l.NextSyncAt == nil || l.RunID == 0 {
		t.Fatalf("created list = %s", created.Body)
	}
	if l.LastRun == nil || l.LastRun.ID != l.RunID || l.LastRun.Trigger != "created" {
		t.Errorf("the created list's lastRun is not its first run: %+v", l.LastRun)
	}

	run := w.waitRun(t, l.RunID)
	raw := w.call(t, http.MethodGet, fmt.Sprintf("/api/v1/runs/%d", l.RunID), w.reader, nil, http.StatusOK, nil)
	wantKeys(t, "run", []byte(raw.Body), runKeys...)
	size := int64(len(w.members))
	unknown := int64(len(w.unknown))
	if run.Status != "succeeded" || run.Kind != "import" || run.Subject["list"] != l.ID || len(run.Subject) != 1 || run.Error != nil {
		t.Fatalf("first run = %s", raw.Body)
	}
	got := [...]int64{run.Counts.Received, run.Counts.Reconciled, run.Counts.NotRecognized, run.Counts.Added, run.Counts.Removed,
		run.Counts.Exported, run.Counts.Complement, run.ListSize, run.Reasons.NoRecipient, run.Reasons.Malformed, run.Reasons.HashMismatch}
	want := [...]int64{w.received, w.reconciled, w.received - w.reconciled, size, 0, 0, 0, size, unknown, 0, 0}
	if got != want {
		t.Errorf("counts received, reconciled, notRecognized, added, removed, exported, complement, listSize, noRecipient, malformed, hashMismatch:\n got %v\nwant %v", got, want)
	}
	if want := float64(w.reconciled) / float64(w.received); run.MatchRate < want-1e-9 || run.MatchRate > want+1e-9 {
		t.Errorf("matchRate %v, want %v", run.MatchRate, want)
	}
	queued, started, finished := rfc3339(t, "queuedAt", run.QueuedAt), rfc3339(t, "startedAt", run.StartedAt), rfc3339(t, "finishedAt", run.FinishedAt)
	if started.Before(queued) || finished.Before(started) {
		t.Errorf("times out of order: queued %v, started %v, finished %v", queued, started, finished)
	}

	// The list and its members, read by an operator who cannot import.
	var shown apiList
	w.call(t, http.MethodGet, fmt.Sprintf("/api/v1/lists/%d", l.ID), w.reader, nil, http.StatusOK, &shown)
	if shown.Size != size || shown.LastRun == nil || shown.LastRun.ID != l.RunID || shown.LastRun.Status != "succeeded" {
		t.Errorf("list after its import: size %d (want %d), lastRun %+v", shown.Size, size, shown.LastRun)
	}
	var members struct {
		Total    int64
		Page     int
		PageSize int
		List     []struct {
			ID         int64    `json:"id"`
			Email      string   `json:"email"`
			VisitorIDs []string `json:"visitorIds"`
		}
	}
	w.call(t, http.MethodGet, fmt.Sprintf("/api/v1/lists/%d/members?pageSize=200", l.ID), w.reader, nil, http.StatusOK, &members)
	var ids []int64
	for _, m := range members.List {
		ids = append(ids, m.ID)
		if len(m.VisitorIDs) == 0 || m.Email == "" {
			t.Errorf("member %+v lacks its e-mail address or visitor IDs", m)
		}
	}
	slices.Sort(ids)
	if members.Total != size || !slices.Equal(ids, w.members) {
		t.Errorf("members: total %d, ids %v; want %d: %v", members.Total, ids, size, w.members)
	}
	w.call(t, http.MethodGet, fmt.Sprintf("/api/v1/lists/%d/members?page=1&pageSize=4", l.ID), w.reader, nil, http.StatusOK, &members)
	if members.Total != size || members.Page != 1 || members.PageSize != 4 || len(members.List) != 4 {
		t.Errorf("second page of 4: total %d, page %d, pageSize %d, %d members", members.Total, members.Page, members.PageSize, len(members.List))
	}

	// Synchronising again changes nothing and says who asked.
	var synced struct {
		RunID int64 `json:"runId"`
	}
	w.call(t, http.MethodPost, fmt.Sprintf("/api/v1/lists/%d/sync", l.ID), w.importer, nil, http.StatusAccepted, &synced)
	again := w.waitRun(t, synced.RunID)
	if synced.RunID == l.RunID || again.Status != "succeeded" || again.Trigger != "api" || again.Counts.Received != w.received ||
		again.Counts.Added != 0 || again.Counts.Removed != 0 || again.ListSize != size {
		t.Errorf("sync through the API: %+v", again)
	}

	// Searching and filtering.
	regular, err := w.srv.Store.CreateList(context.Background(), models.SystemActor("test"), models.ListInput{Label: "Newsletter", InternalName: "newsletter"})
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Total int64
		List  []apiList
	}
	for query, want := range map[string][]int64{"": {regular.ID, l.ID}, "?type=sharedAudience": {l.ID}, "?type=regular": {regular.ID},
		"?search=loyal": {l.ID}, "?search=nothing-like-it": nil} {
		w.call(t, http.MethodGet, "/api/v1/lists"+query, w.reader, nil, http.StatusOK, &page)
		var got []int64
		for _, x := range page.List {
			got = append(got, x.ID)
		}
		slices.Sort(got)
		slices.Sort(want)
		if page.Total != int64(len(want)) || !slices.Equal(got, want) {
			t.Errorf("GET /api/v1/lists%s = %d %v, want %v", query, page.Total, got, want)
		}
	}
	var reg apiList
	regRaw := w.call(t, http.MethodGet, fmt.Sprintf("/api/v1/lists/%d", regular.ID), w.nobody, nil, http.StatusOK, &reg)
	if reg.Type != "regular" || reg.SharedAudience != nil || reg.DataSource != nil || reg.LastRun != nil || reg.SyncEveryMinutes != nil || reg.NextSyncAt != nil {
		t.Errorf("regular list = %s", regRaw.Body)
	}

	// Refusals change nothing.
	path := fmt.Sprintf("/api/v1/lists/%d", l.ID)
	body := func(change map[string]any) map[string]any {
		b := map[string]any{"label": "Other", "internalName": "other", "sharedAudienceId": w.seg.SID, "dataSource": "apiVisitors"}
		for k, v := range change {
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
		}
		return b
	}
	cases := []struct {
		name, method, path, token string
		body                      any
		status                    int
		field, says               string
	}{
		{"create without aam-admin", http.MethodPost, "/api/v1/lists", w.reader, body(nil), http.StatusForbidden, "", "aam-admin"},
		{"create with no entitlement", http.MethodPost, "/api/v1/lists", w.nobody, body(nil), http.StatusForbidden, "", "audience-library"},
		{"sync without aam-admin", http.MethodPost, path + "/sync", w.reader, nil, http.StatusForbidden, "", "aam-admin"},
		{"anonymous list", http.MethodGet, "/api/v1/lists", "", nil, http.StatusUnauthorized, "", "Bearer"},
		{"anonymous create", http.MethodPost, "/api/v1/lists", "", body(nil), http.StatusUnauthorized, "", "Bearer"},
		{"anonymous sync", http.MethodPost, path + "/sync", "", nil, http.StatusUnauthorized, "", "Bearer"},
		{"truncated body", http.MethodPost, "/api/v1/lists", w.importer, `{"label":`, http.StatusBadRequest, "", "not valid JSON"},
		{"empty body", http.MethodPost, "/api/v1/lists", w.importer, nil, http.StatusBadRequest, "", "empty"},
		{"unknown field", http.MethodPost, "/api/v1/lists", w.importer, body(map[string]any{"segment": 1}), http.StatusBadRequest, "segment", "unknown field"},
		{"audience as a string", http.MethodPost, "/api/v1/lists", w.importer, body(map[string]any{"sharedAudienceId": fmt.Sprint(w.seg.SID)}),
			http.StatusUnprocessableEntity, "sharedAudienceId", "number"},
		{"no audience", http.MethodPost, "/api/v1/lists", w.importer, body(map[string]any{"sharedAudienceId": nil}),
			http.StatusUnprocessableEntity, "sharedAudienceId", "select a shared audience"},
		{"unknown audience", http.MethodPost, "/api/v1/lists", w.importer, body(map[string]any{"sharedAudienceId": w.seg.SID + 1000}),
			http.StatusUnprocessableEntity, "sharedAudienceId", fmt.Sprint(w.seg.SID + 1000)},
		{"unknown data source", http.MethodPost, "/api/v1/lists", w.importer, body(map[string]any{"dataSource": "nowhere"}),
			http.StatusUnprocessableEntity, "dataSource", "nowhere"},
		{"bad schedule", http.MethodPost, "/api/v1/lists", w.importer, body(map[string]any{"syncEveryMinutes": 1}),
			http.StatusUnprocessableEntity, "syncEveryMinutes", "minutes"},
		{"duplicate internal name", http.MethodPost, "/api/v1/lists", w.importer, body(map[string]any{"internalName": "loyal"}),
			http.StatusConflict, "internalName", "loyal"},
		{"sync a regular list", http.MethodPost, fmt.Sprintf("/api/v1/lists/%d/sync", regular.ID), w.importer, nil, http.StatusConflict, "", "regular"},
		{"unknown list", http.MethodGet, "/api/v1/lists/999999", w.reader, nil, http.StatusNotFound, "", "list"},
		{"members of an unknown list", http.MethodGet, "/api/v1/lists/999999/members", w.reader, nil, http.StatusNotFound, "", "list"},
		{"sync an unknown list", http.MethodPost, "/api/v1/lists/999999/sync", w.importer, nil, http.StatusNotFound, "", "list"},
		{"malformed list id", http.MethodGet, "/api/v1/lists/abc", w.reader, nil, http.StatusNotFound, "", ""},
		{"unknown list type", http.MethodGet, "/api/v1/lists?type=smart", w.reader, nil, http.StatusBadRequest, "type", "sharedAudience"},
	}
	var runsBefore struct{ Total int64 }
	w.call(t, http.MethodGet, "/api/v1/runs", w.reader, nil, http.StatusOK, &runsBefore)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { w.refused(t, tc.method, tc.path, tc.token, tc.body, tc.status, tc.field, tc.says) })
	}
	w.call(t, http.MethodGet, "/api/v1/lists", w.reader, nil, http.StatusOK, &page)
	var runsAfter struct{ Total int64 }
	w.call(t, http.MethodGet, "/api/v1/runs", w.reader, nil, http.StatusOK, &runsAfter)
	if page.Total != 2 || runsAfter.Total != runsBefore.Total {
		t.Errorf("after the refusals: %d lists (want 2), %d runs (want %d)", page.Total, runsAfter.Total, runsBefore.Total)
	}
}

func TestAPIRunsHistoryFailureAndRetry(t *testing.T) {
	w := newAPIListsWorld(t, 40)
	ctx := context.Background()
	a := w.createList(t, "runsA")
	if r := w.waitRun(t, a.RunID); r.Status != "succeeded" {
		t.Fatalf("first run of A: %+v", r)
	}
	b := w.createList(t, "runsB")
	if r := w.waitRun(t, b.RunID); r.Status != "succeeded" {
		t.Fatalf("first run of B: %+v", r)
	}

	// An inactive audience: the run fails, says why, and keeps the list.
	if _, err := w.srv.Library.UpdateSegment(ctx, w.seg.SID, library.SegmentInput{Name: w.seg.Name, DataSourceID: apiListsDPID, Status: library.Inactive}); err != nil {
		t.Fatal(err)
	}
	var synced struct {
		RunID int64 `json:"runId"`
	}
	w.call(t, http.MethodPost, fmt.Sprintf("/api/v1/lists/%d/sync", a.ID), w.importer, nil, http.StatusAccepted, &synced)
	failed := w.waitRun(t, synced.RunID)
	if failed.Status != "failed" || failed.Error == nil || !strings.Contains(*failed.Error, "inactive") || failed.FinishedAt == nil {
		t.Fatalf("run on an inactive audience: %+v", failed)
	}
	var shown apiList
	w.call(t, http.MethodGet, fmt.Sprintf("/api/v1/lists/%d", a.ID), w.reader, nil, http.StatusOK, &shown)
	if shown.Size != int64(len(w.members)) || shown.LastRun == nil || shown.LastRun.ID != failed.ID || shown.LastRun.Status != "failed" {
		t.Errorf("list A after the failure: size %d, lastRun %+v", shown.Size, shown.LastRun)
	}

	// History: filtered, paged, newest first.
	type runPage struct {
		Total    int64
		Page     int
		PageSize int
		List     []apiRun
	}
	idsOf := func(p runPage) []int64 {
		var out []int64
		for _, r := range p.List {
			out = append(out, r.ID)
		}
		return out
	}
	for query, want := range map[string][]int64{
		"":                            {failed.ID, b.RunID, a.RunID},
		fmt.Sprintf("?list=%d", a.ID): {failed.ID, a.RunID},
		fmt.Sprintf("?list=%d", b.ID): {b.RunID},
		fmt.Sprintf("?list=%d&status=failed", a.ID): {failed.ID},
		"?status=succeeded":                         {b.RunID, a.RunID},
		"?workflow=1":                               nil,
	} {
		var p runPage
		raw := w.call(t, http.MethodGet, "/api/v1/runs"+query, w.nobody, nil, http.StatusOK, &p)
		if got := idsOf(p); p.Total != int64(len(want)) || !slices.Equal(got, want) {
			t.Errorf("GET /api/v1/runs%s = %d %v, want %v", query, p.Total, got, want)
		}
		if strings.Contains(raw.Body, `"list":null`) {
			t.Errorf("GET /api/v1/runs%s: the page's list is null, not []", query)
		}
	}
	var p runPage
	w.call(t, http.MethodGet, fmt.Sprintf("/api/v1/runs?list=%d&page=1&pageSize=1", a.ID), w.reader, nil, http.StatusOK, &p)
	if p.Total != 2 || p.Page != 1 || p.PageSize != 1 || !slices.Equal(idsOf(p), []int64{a.RunID}) {
		t.Errorf("second page of one: %+v", p)
	}
	w.refused(t, http.MethodGet, "/api/v1/runs?list=A", w.reader, nil, http.StatusBadRequest, "list", "integer")
	w.refused(t, http.MethodGet, "/api/v1/runs?status=done", w.reader, nil, http.StatusBadRequest, "status", "failed")
	w.refused(t, http.MethodGet, "/api/v1/runs/999999", w.reader, nil, http.StatusNotFound, "", "run")
	w.refused(t, http.MethodGet, "/api/v1/runs", "", nil, http.StatusUnauthorized, "", "Bearer")

	// What the first run did not carry: the identifiers nobody has.
	var sample struct {
		List []struct {
			Identifier string `json:"identifier"`
			Reason     string `json:"reason"`
		} `json:"list"`
	}
	w.call(t, http.MethodGet, fmt.Sprintf("/api/v1/runs/%d/unrecognized", a.RunID), w.reader, nil, http.StatusOK, &sample)
	var unknown []string
	for _, u := range sample.List {
		unknown = append(unknown, u.Identifier)
		if u.Reason != models.ReasonNoRecipient {
			t.Errorf("%s: reason %q", u.Identifier, u.Reason)
		}
	}
	slices.Sort(unknown)
	if !slices.Equal(unknown, w.unknown) {
		t.Errorf("unrecognized = %v, want %v", unknown, w.unknown)
	}
	w.refused(t, http.MethodGet, fmt.Sprintf("/api/v1/runs/%d/unrecognized", a.RunID), w.nobody, nil, http.StatusForbidden, "", "audience-library")
	w.refused(t, http.MethodGet, "/api/v1/runs/999999/unrecognized", w.reader, nil, http.StatusNotFound, "", "run")

	// Retry: only a failed run, only with both entitlements.
	retryPath := fmt.Sprintf("/api/v1/runs/%d/retry", failed.ID)
	w.refused(t, http.MethodPost, retryPath, w.reader, nil, http.StatusForbidden, "", "aam-admin")
	w.refused(t, http.MethodPost, retryPath, "", nil, http.StatusUnauthorized, "", "Bearer")
	w.refused(t, http.MethodPost, fmt.Sprintf("/api/v1/runs/%d/retry", a.RunID), w.importer, nil, http.StatusConflict, "", "succeeded")
	w.refused(t, http.MethodPost, "/api/v1/runs/999999/retry", w.importer, nil, http.StatusNotFound, "", "run")
	if _, err := w.srv.Library.UpdateSegment(ctx, w.seg.SID, library.SegmentInput{Name: w.seg.Name, DataSourceID: apiListsDPID, Status: library.Active}); err != nil {
		t.Fatal(err)
	}
	var retried struct {
		RunID int64 `json:"runId"`
	}
	w.call(t, http.MethodPost, retryPath, w.importer, nil, http.StatusAccepted, &retried)
	if retried.RunID == 0 || retried.RunID == failed.ID {
		t.Fatalf("retry answered run %d", retried.RunID)
	}
	var queued apiRun
	w.call(t, http.MethodGet, fmt.Sprintf("/api/v1/runs/%d", retried.RunID), w.reader, nil, http.StatusOK, &queued)
	if queued.RetryOf == nil || *queued.RetryOf != failed.ID || queued.Trigger != "retry" || queued.Subject["list"] != a.ID {
		t.Errorf("the retry run: %+v", queued)
	}
	done := w.waitRun(t, retried.RunID)
	if done.Status != "succeeded" || done.ListSize != int64(len(w.members)) || done.Counts.Added != 0 || done.Counts.Removed != 0 {
		t.Errorf("the retry run after reactivation: %+v", done)
	}
	if done.RetryOf == nil || *done.RetryOf != failed.ID {
		t.Errorf("the finished retry run lost its retryOf: %v", done.RetryOf)
	}
}
