package web_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

// eventually waits up to 30 s for cond, for what the worker does after a
// run has ended.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// unread is the number on a client's bell, "" when it shows none.
func unread(c *webtest.Client) string { return c.Get("/").Text(`[data-testid="unread-count"]`) }

// sharedList saves a shared-audience list of the fixture's audience as the
// client's operator and waits for its first run.
func sharedList(t *testing.T, srv *webtest.Server, c *webtest.Client, f audienceFixture, label string) (int64, *models.Run) {
	t.Helper()
	saved := c.Post("/lists/shared-audience", url.Values{"label": {label}, "audienceSid": {strconv.FormatInt(f.seg.SID, 10)}, "dataSource": {models.DefaultDataSourceName}})
	if saved.Status != http.StatusSeeOther {
		t.Fatalf("save %s: %d %s", label, saved.Status, saved.Text(".field-error"))
	}
	id := mustID(t, saved.Location())
	l, err := srv.Store.ListByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	run := waitRunDone(t, srv, *l.LastRunID)
	if run.Status != models.RunSucceeded {
		t.Fatalf("first run of %s: %+v", label, run)
	}
	return id, run
}

func TestNotificationsOfAMatchRateDrop(t *testing.T) {
	srv := webtest.Start(t)
	ctx := context.Background()
	owner, _ := srv.SignedIn(t, "olga", models.RoleMarketer, models.AudienceLibrary, models.AAMAdmin)
	other, _ := srv.SignedIn(t, "otto", models.RoleMarketer, models.AudienceLibrary, models.AAMAdmin)
	admin, _ := srv.SignedIn(t, "ana", models.RoleAdmin)

	// Every member of the audience is a recipient: 100%.
	f := newAudienceFixture(t, srv, 40, 0)
	listID, first := sharedList(t, srv, owner, f, "Weekend")
	if first.Reconciled != f.received || first.Received != f.received {
		t.Fatalf("first run matched %d of %d, want all %d", first.Reconciled, first.Received, f.received)
	}
	if got := unread(owner); got != "" {
		t.Fatalf("a successful first run notified: %q", got)
	}

	// The audience now holds identifiers no recipient has: 0%.
	var unknown []string
	for k := range 6 {
		unknown = append(unknown, fixtureECID(700000+k))
	}
	if _, err := srv.Library.ReplaceMembers(ctx, f.seg.SID, library.Slice(unknown)); err != nil {
		t.Fatal(err)
	}
	owner.Post(fmt.Sprintf("/lists/%d/sync", listID), url.Values{})
	second := nextRun(t, srv, listID, first.ID)
	if second.Status != models.RunSucceeded || second.Received != int64(len(unknown)) || second.Reconciled != 0 {
		t.Fatalf("second run: %+v", second)
	}

	// Diagnostics flags the list.
	page := admin.Get("/admin/diagnostics")
	drop := page.Doc.Find(`[data-testid="drop-row"]`)
	if checkStatus(page, "match-rates") != "warning" || drop.Length() != 1 || drop.AttrOr("data-list", "") != strconv.FormatInt(listID, 10) {
		t.Fatalf("match rates: %s, %d drops", checkStatus(page, "match-rates"), drop.Length())
	}
	if p, l := drop.Find(`[data-testid="drop-previous"]`).Text(), drop.Find(`[data-testid="drop-last"]`).Text(); p != "100.0%" || l != "0.0%" {
		t.Errorf("drop shown from %q to %q, want 100.0%% to 0.0%%", p, l)
	}
	if href := drop.Find("a").AttrOr("href", ""); href != fmt.Sprintf("/lists/%d/runs/%d", listID, second.ID) {
		t.Errorf("drop links to %q", href)
	}

	// The owner, and only the owner, has an unread notification.
	eventually(t, "the owner's notification", func() bool { return unread(owner) == "1" })
	if got := unread(other); got != "" {
		t.Errorf("another operator's bell shows %q", got)
	}
	if got := unread(admin); got != "" {
		t.Errorf("the administrator's bell shows %q", got)
	}
	list := owner.Get("/notifications")
	rows := list.Doc.Find(`[data-testid="notification-row"]`)
	if rows.Length() != 1 || rows.Is(":not([data-unread])") {
		t.Fatalf("%d notifications, unread %v", rows.Length(), rows.Is("[data-unread]"))
	}
	if title := rows.Find(`[data-testid="notification-title"]`).Text(); !strings.Contains(title, "Weekend") || !strings.Contains(title, "100.0%") || !strings.Contains(title, "0.0%") {
		t.Errorf("notification title %q", title)
	}
	if other.Get("/notifications").Has(`[data-testid="notification-row"]`) {
		t.Errorf("another operator lists the owner's notification")
	}
	var n models.Notification
	page1, err := srv.Store.ListNotifications(ctx, mustOperator(t, srv, "olga").ID, models.PageRequest{})
	if err != nil || len(page1.Items) != 1 {
		t.Fatalf("stored notifications: %v %d", err, len(page1.Items))
	}
	n = *page1.Items[0]
	if n.Kind != models.NotifyMatchRateDrop || n.RunID == nil || *n.RunID != second.ID {
		t.Errorf("stored notification %+v", n)
	}
	// Another operator cannot open it.
	if r := other.Post(fmt.Sprintf("/notifications/%d/read", n.ID), nil); r.Status != http.StatusNotFound {
		t.Errorf("another operator opens it: %d, want 404", r.Status)
	}
	if got := unread(owner); got != "1" {
		t.Errorf("after another operator's attempt the bell shows %q", got)
	}

	// Marking read needs the CSRF token, then clears the badge.
	if r := owner.Post("/notifications/read", url.Values{"_csrf": {"forged"}}); r.Status != http.StatusForbidden {
		t.Errorf("mark read with a forged token: %d, want 403", r.Status)
	}
	if got := unread(owner); got != "1" {
		t.Errorf("a refused mark-read changed the bell: %q", got)
	}
	if r := owner.Post("/notifications/read", nil); r.Status != http.StatusSeeOther || r.Location() != "/notifications" {
		t.Fatalf("mark all read: %d %s", r.Status, r.Location())
	}
	after := owner.Get("/notifications")
	if after.Has(`[data-testid="unread-count"]`) || after.Has(`[data-testid="notification-row"][data-unread]`) || !after.Has(`[data-testid="notification-row"]`) {
		t.Errorf("after mark all read: badge %v, unread rows %d", after.Has(`[data-testid="unread-count"]`),
			after.Doc.Find(`[data-testid="notification-row"][data-unread]`).Length())
	}
	// Opening a read notification goes to its run.
	if r := owner.Post(fmt.Sprintf("/notifications/%d/read", n.ID), nil); r.Status != http.StatusSeeOther || r.Location() != fmt.Sprintf("/lists/%d/runs/%d", listID, second.ID) {
		t.Errorf("open: %d %s", r.Status, r.Location())
	}
}

func mustOperator(t *testing.T, srv *webtest.Server, login string) *models.Operator {
	t.Helper()
	op, err := srv.Store.OperatorByLogin(context.Background(), login)
	if err != nil {
		t.Fatal(err)
	}
	return op
}

// delivery is one call a webhook received.
type delivery struct {
	path, signature string
	body            []byte
}

// hookReceiver records the calls it gets; the first call to failFirst is
// answered 500, to prove the retry.
type hookReceiver struct {
	mu        sync.Mutex
	calls     []delivery
	failFirst string
	failed    bool
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, delivery{path: r.URL.Path, signature: r.Header.Get(models.WebhookSignatureHeader), body: body})
	if r.URL.Path == h.failFirst && !h.failed {
		h.failed = true
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookReceiver) to(path string) []delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []delivery
	for _, d := range h.calls {
		if d.path == path {
			out = append(out, d)
		}
	}
	return out
}

func TestNotificationsWebhookReceivesSignedFailedRuns(t *testing.T) {
	srv := webtest.Start(t, webtest.Options{AllowPrivateWebhooks: true}) // the receiver listens on 127.0.0.1
	owner, _ := srv.SignedIn(t, "olga", models.RoleMarketer, models.AudienceLibrary, models.AAMAdmin)
	admin, _ := srv.SignedIn(t, "ana", models.RoleAdmin)
	recv := &hookReceiver{failFirst: "/own"}
	hooks := httptest.NewServer(recv)
	t.Cleanup(hooks.Close)

	// Only http(s) URLs are taken.
	for _, bad := range []string{"ftp://example.org/hook", "javascript:alert(1)", "/relative", ""} {
		r := owner.Post("/notifications/webhook", url.Values{"url": {bad}})
		if r.Status != http.StatusUnprocessableEntity || r.Text(`[data-testid="error-url"]`) == "" {
			t.Errorf("webhook %q: %d, error %q", bad, r.Status, r.Text(`[data-testid="error-url"]`))
		}
	}
	set := owner.Post("/notifications/webhook", url.Values{"url": {hooks.URL + "/own?token=t0k"}})
	ownSecret := set.Doc.Find(`[data-testid="webhook-secret-value"]`).AttrOr("value", "")
	if set.Status != http.StatusCreated || !strings.HasPrefix(ownSecret, "whsec_") {
		t.Fatalf("set the webhook: %d, secret %q", set.Status, ownSecret)
	}
	if again := owner.Get("/notifications"); strings.Contains(again.Body, ownSecret) || !again.Has(`[data-testid="webhook-set"]`) {
		t.Errorf("the secret is shown again, or the webhook is not shown as set")
	}
	global := admin.Post("/admin/diagnostics/webhook", url.Values{"url": {hooks.URL + "/global"}})
	globalSecret := global.Doc.Find(`[data-testid="webhook-secret-value"]`).AttrOr("value", "")
	if global.Status != http.StatusCreated || !strings.HasPrefix(globalSecret, "whsec_") || globalSecret == ownSecret {
		t.Fatalf("set the global webhook: %d, secret %q", global.Status, globalSecret)
	}

	f := newAudienceFixture(t, srv, 8, 0)
	listID, _ := sharedList(t, srv, owner, f, "Weekend")
	failed := failSync(t, srv, owner, f.seg, listID)

	// The owner's webhook answers 500 once, then gets the retry; the global
	// one gets the event once.
	eventually(t, "the retried call of the owner's webhook", func() bool { return len(recv.to("/own")) >= 2 })
	eventually(t, "the call of the global webhook", func() bool { return len(recv.to("/global")) >= 1 })
	for path, secret := range map[string]string{"/own": ownSecret, "/global": globalSecret} {
		calls := recv.to(path)
		for i, d := range calls {
			mac := hmac.New(sha256.New, []byte(secret))
			mac.Write(d.body)
			if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); !hmac.Equal([]byte(d.signature), []byte(want)) {
				t.Errorf("%s call %d: signature %q does not verify", path, i, d.signature)
			}
			var p struct {
				Event  string `json:"event"`
				RunID  int64  `json:"runId"`
				ListID int64  `json:"listId"`
				Href   string `json:"href"`
				Body   string `json:"body"`
			}
			if err := json.Unmarshal(d.body, &p); err != nil {
				t.Fatalf("%s call %d: not JSON: %s", path, i, d.body)
			}
			if p.Event != "runFailed" || p.RunID != failed.ID || p.ListID != listID || p.Href != fmt.Sprintf("/lists/%d/runs/%d", listID, failed.ID) || !strings.Contains(p.Body, "inactive") {
				t.Errorf("%s call %d: %+v", path, i, p)
			}
		}
		if path == "/own" && len(calls) != 2 {
			t.Errorf("the owner's webhook got %d calls, want 2 (a refused one, its retry)", len(calls))
		}
		if path == "/global" && len(calls) != 1 {
			t.Errorf("the global webhook got %d calls, want 1", len(calls))
		}
	}
	// The secret signs the body with the other hook's secret? It must not.
	own := recv.to("/own")[0]
	mac := hmac.New(sha256.New, []byte(globalSecret))
	mac.Write(own.body)
	if own.signature == "sha256="+hex.EncodeToString(mac.Sum(nil)) {
		t.Errorf("the owner's call is signed with the global secret")
	}

	// The failure is also in the owner's bell, and the page says how the
	// last call went.
	eventually(t, "the owner's notification", func() bool { return unread(owner) == "1" })
	eventually(t, "the recorded delivery", func() bool {
		return strings.Contains(owner.Get("/notifications").Text(`[data-testid="webhook-last"]`), "delivered: HTTP 204")
	})

	// The secrets are in no log line and no audit record.
	for _, s := range []string{ownSecret, globalSecret} {
		if strings.Contains(srv.Log.String(), s) {
			t.Errorf("a secret is in the log")
		}
	}
	events, err := srv.Store.ListAudit(context.Background(), models.AuditQuery{TargetType: "webhook"})
	if err != nil || events.Total != 2 {
		t.Fatalf("webhook audit records: %v, %d, want 2", err, events.Total)
	}
	for _, ev := range events.Items {
		if strings.Contains(ev.AfterJSON+ev.BeforeJSON, "whsec_") || strings.Contains(ev.AfterJSON, "t0k") {
			t.Errorf("audit record %s holds a secret: %s", ev.Action, ev.AfterJSON)
		}
	}

	// Removing the webhook stops the calls: the next failure reaches only
	// the global one.
	if r := owner.Post("/notifications/webhook/delete", nil); r.Status != http.StatusSeeOther {
		t.Fatalf("remove: %d", r.Status)
	}
	failSync(t, srv, owner, f.seg, listID)
	eventually(t, "the second call of the global webhook", func() bool { return len(recv.to("/global")) >= 2 })
	if got := len(recv.to("/own")); got != 2 {
		t.Errorf("the removed webhook got %d calls, want still 2", got)
	}
}
