package egress_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"audiencebridge/egress"
)

func TestRefusal(t *testing.T) {
	for addr, refused := range map[string]bool{
		"127.0.0.1": true, "127.255.0.1": true, "::1": true, "::ffff:127.0.0.1": true,
		"169.254.169.254": true, "fe80::1": true, "fe80::1%eth0": true,
		"0.0.0.0": true, "0.1.2.3": true, "::": true,
		"224.0.0.1": true, "239.255.255.250": true, "ff02::1": true, "ff01::1": true,
		"10.1.2.3": true, "172.16.0.1": true, "172.31.255.255": true, "192.168.0.1": true, "fd12:3456::1": true,
		"100.64.0.1": true, "255.255.255.255": true, "240.0.0.1": true, "198.18.0.1": true,
		"8.8.8.8": false, "93.184.216.34": false, "172.32.0.1": false, "2606:4700::1111": false, "203.0.113.10": false,
	} {
		reason := egress.Refusal(netip.MustParseAddr(addr))
		if (reason != "") != refused {
			t.Errorf("%s: refusal %q, want refused %v", addr, reason, refused)
		}
	}
}

func TestCheckURL(t *testing.T) {
	ctx := context.Background()
	for raw, ok := range map[string]bool{
		"https://203.0.113.10/hook":                  true,
		"http://127.0.0.1/":                          false,
		"http://localhost/":                          false, // from /etc/hosts
		"http://[::ffff:169.254.169.254]/":           false,
		"ftp://203.0.113.10/":                        false,
		"javascript:alert(1)":                        false,
		"http://name-that-does-not.resolve.invalid/": true, // the dialer checks it when called
	} {
		err := egress.Policy{}.CheckURL(ctx, raw)
		if (err == nil) != ok {
			t.Errorf("%s: %v, want ok %v", raw, err, ok)
		}
	}
	if err := (egress.Policy{AllowPrivate: true}).CheckURL(ctx, "http://127.0.0.1/"); err != nil {
		t.Errorf("allowed private: %v", err)
	}
	if err := (egress.Policy{AllowPrivate: true}).CheckURL(ctx, "file:///etc/passwd"); !errors.Is(err, egress.ErrScheme) {
		t.Errorf("allowed private still refuses other schemes: %v", err)
	}
}

// The client checks the dialed address, whatever name led to it.
func TestClientRefusesToDialPrivateAddresses(t *testing.T) {
	var called bool
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
	t.Cleanup(srv.Close)
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	for _, u := range []string{srv.URL, "http://localhost" + port} {
		_, err := egress.Policy{}.Client(time.Second).Get(u)
		var refused *egress.RefusedError
		if !errors.As(err, &refused) || !strings.Contains(refused.Error(), "loopback") {
			t.Errorf("%s: %v, want a refusal", u, err)
		}
	}
	if called {
		t.Errorf("the refused server was called")
	}
	resp, err := egress.Policy{AllowPrivate: true}.Client(time.Second).Get(srv.URL)
	if err != nil {
		t.Fatalf("allowed: %v", err)
	}
	resp.Body.Close()
}

// A redirect is not followed: it could lead anywhere.
func TestClientFollowsNoRedirect(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	resp, err := egress.Policy{AllowPrivate: true}.Client(time.Second).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("status %d, want the redirect itself", resp.StatusCode)
	}
}

// A server that accepts the connection and never answers costs the
// time-out, not the worker.
func TestClientTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	start := time.Now()
	_, err := egress.Policy{AllowPrivate: true}.Client(200 * time.Millisecond).Get(srv.URL)
	if err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("after %s: %v, want a time-out", time.Since(start), err)
	}
}
