package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

// TestSessionEndsAtItsAbsoluteLimit keeps a session busy (never idle) past
// its absolute limit: it ends all the same, and signing in again works.
func TestSessionEndsAtItsAbsoluteLimit(t *testing.T) {
	policy := models.SessionPolicy{Idle: 30 * time.Minute, MaxAge: 2 * time.Hour}
	srv := webtest.Start(t, webtest.Options{SessionPolicy: policy})
	c, _ := srv.SignedIn(t, "mia", models.RoleMarketer)
	for elapsed := time.Duration(0); elapsed < policy.MaxAge-20*time.Minute; elapsed += 20 * time.Minute {
		srv.Clock.Advance(20 * time.Minute)
		if r := c.Get("/lists"); r.Status != http.StatusOK {
			t.Fatalf("a busy session %v after sign-in answered %d", elapsed+20*time.Minute, r.Status)
		}
	}
	srv.Clock.Advance(21 * time.Minute) // past MaxAge, 1 minute after the last request
	if r := c.Get("/lists"); r.Status != http.StatusSeeOther || r.Location() != "/login?next=%2Flists" {
		t.Fatalf("past the absolute limit: %d %q, want a redirect to sign in", r.Status, r.Location())
	}
	c.Login("mia", webtest.Password)
	if r := c.Get("/lists"); r.Status != http.StatusOK {
		t.Fatalf("after signing in again: %d", r.Status)
	}
}

// TestSignInIsThrottledPerAddress guesses many logins from one address:
// the address is then refused even for a right password of another login,
// until the window has passed.
func TestSignInIsThrottledPerAddress(t *testing.T) {
	srv := webtest.Start(t)
	srv.Operator(t, "noor", models.RoleMarketer)
	c := srv.Client(t)
	c.Get("/login")
	for i := range models.MaxFailuresPerIP {
		r := c.Post("/login", url.Values{"login": {"guess" + strconv.Itoa(i)}, "password": {"wrong"}})
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("failure %d answered %d, want 401", i, r.Status)
		}
	}
	r := c.Post("/login", url.Values{"login": {"noor"}, "password": {webtest.Password}})
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("after %d failures from one address: %d (Retry-After %q), want 429", models.MaxFailuresPerIP, r.Status, r.Header.Get("Retry-After"))
	}
	srv.Clock.Advance(models.ThrottleWindow + time.Second)
	if r := c.Post("/login", url.Values{"login": {"noor"}, "password": {webtest.Password}}); r.Status != http.StatusSeeOther {
		t.Fatalf("after the window: %d, want the sign-in to go through", r.Status)
	}
}
