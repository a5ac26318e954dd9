package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

// A webhook URL an operator types must not make the server call itself,
// its network or the cloud's metadata service: refused when saved, by
// default (--allow-private-webhooks is off).
func TestSecurityWebhookRefusesPrivateDestinationsWhenSaved(t *testing.T) {
	srv := webtest.Start(t)
	owner, _ := srv.SignedIn(t, "olga", models.RoleMarketer)
	admin, _ := srv.SignedIn(t, "ana", models.RoleAdmin)

	for _, tc := range []struct{ url, says string }{
		{"http://127.0.0.1:8080/hook", "loopback"},
		{"http://127.9.9.9/hook", "loopback"},
		{"http://localhost:8080/hook", "loopback"},
		{"http://[::1]/hook", "loopback"},
		{"http://[::ffff:127.0.0.1]/hook", "loopback"},
		{"http://169.254.169.254/latest/meta-data/iam/security-credentials/", "metadata"},
		{"http://[fe80::1]/hook", "link-local"},
		{"http://0.0.0.0/hook", "unspecified"},
		{"http://[::]/hook", "unspecified"},
		{"http://224.0.0.1/hook", "multicast"},
		{"http://[ff02::1]/hook", "multicast"},
		{"http://10.0.0.5/hook", "private"},
		{"http://172.16.3.4/hook", "private"},
		{"http://192.168.1.1/hook", "private"},
		{"http://[fd00::1]/hook", "private"},
		{"http://100.64.0.1/hook", "carrier-grade"},
		{"https://user:pass@127.0.0.1/hook", "loopback"},
		{"gopher://127.0.0.1:6379/_FLUSHALL", "http"},
		{"file:///etc/passwd", "http"},
		{"dict://127.0.0.1:11211/stats", "http"},
	} {
		for _, form := range []struct {
			c    *webtest.Client
			path string
		}{{owner, "/notifications/webhook"}, {admin, "/admin/diagnostics/webhook"}} {
			r := form.c.Post(form.path, url.Values{"url": {tc.url}})
			msg := r.Text(`[data-testid="error-url"]`)
			if r.Status != http.StatusUnprocessableEntity || !strings.Contains(msg, tc.says) {
				t.Errorf("%s %q: %d, error %q, want 422 saying %q", form.path, tc.url, r.Status, msg, tc.says)
			}
		}
	}
	for _, op := range []*models.Operator{mustOperator(t, srv, "olga"), nil} {
		var id *int64
		if op != nil {
			id = &op.ID
		}
		if _, err := srv.Store.WebhookOf(context.Background(), id); err == nil {
			t.Errorf("a refused webhook was saved (operator %v)", id)
		}
	}

	// A public address is taken (nothing is called when saving).
	if r := owner.Post("/notifications/webhook", url.Values{"url": {"https://203.0.113.10/hook"}}); r.Status != http.StatusCreated {
		t.Errorf("public webhook: %d, %s", r.Status, r.Text(`[data-testid="error-url"]`))
	}
}

// The sender checks the address it dials: a webhook whose name resolves
// to a private address by the time it is called (DNS rebinding, or a row
// saved before the check existed) is not called, and the page says why.
func TestSecurityWebhookRefusesPrivateDestinationsWhenCalled(t *testing.T) {
	srv := webtest.Start(t)
	owner, _ := srv.SignedIn(t, "olga", models.RoleMarketer, models.AudienceLibrary, models.AAMAdmin)
	var calls atomic.Int32
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	t.Cleanup(recv.Close)

	if r := owner.Post("/notifications/webhook", url.Values{"url": {"https://203.0.113.10/hook"}}); r.Status != http.StatusCreated {
		t.Fatalf("set the webhook: %d", r.Status)
	}
	// What a rebinding DNS answer would make of it.
	db, err := srv.Store.SQL()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(fmt.Sprintf("UPDATE webhooks SET url = '%s/hook'", recv.URL)); err != nil {
		t.Fatal(err)
	}

	f := newAudienceFixture(t, srv, 4, 0)
	listID, _ := sharedList(t, srv, owner, f, "Rebound")
	failSync(t, srv, owner, f.seg, listID)
	eventually(t, "the refused delivery", func() bool {
		return strings.Contains(owner.Get("/notifications").Text(`[data-testid="webhook-last"]`), "refused")
	})
	last := owner.Get("/notifications").Text(`[data-testid="webhook-last"]`)
	if !strings.Contains(last, "loopback") {
		t.Errorf("last call: %q, want the reason", last)
	}
	time.Sleep(1500 * time.Millisecond) // past the first retry's backoff: a refusal is not retried
	if n := calls.Load(); n != 0 {
		t.Errorf("the receiver on 127.0.0.1 got %d calls", n)
	}
}

// A receiver that never answers costs one time-out per attempt, recorded
// on the webhook; the worker is not held.
func TestSecurityWebhookCallTimesOut(t *testing.T) {
	srv := webtest.Start(t, webtest.Options{AllowPrivateWebhooks: true, WebhookTimeout: 300 * time.Millisecond})
	owner, _ := srv.SignedIn(t, "olga", models.RoleMarketer, models.AudienceLibrary, models.AAMAdmin)
	release := make(chan struct{})
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(recv.Close)
	t.Cleanup(func() { close(release) })

	if r := owner.Post("/notifications/webhook", url.Values{"url": {recv.URL + "/stuck"}}); r.Status != http.StatusCreated {
		t.Fatalf("set the webhook: %d", r.Status)
	}
	f := newAudienceFixture(t, srv, 4, 0)
	listID, _ := sharedList(t, srv, owner, f, "Stuck")
	failSync(t, srv, owner, f.seg, listID)
	eventually(t, "the timed-out delivery", func() bool {
		return strings.Contains(owner.Get("/notifications").Text(`[data-testid="webhook-last"]`), "no answer within 300ms")
	})
}
