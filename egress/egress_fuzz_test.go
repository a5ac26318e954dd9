package egress_test

import (
	"context"
	"net/netip"
	"net/url"
	"testing"

	"audiencebridge/egress"
)

// FuzzCheckURL: a webhook URL an operator types is never accepted when
// its host is a literal address the default policy refuses, and the check
// never panics.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"https://203.0.113.10/hook", "http://127.0.0.1:8080/", "http://[::ffff:169.254.169.254]/",
		"http://[fe80::1%25eth0]/", "http://0x7f.1/", "http://2130706433/", "gopher://x", "http://user@[::1]:80/", "http://%31%32%37.0.0.1/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, perr := url.Parse(raw)
		if perr == nil && u.Hostname() != "" {
			if _, err := netip.ParseAddr(u.Hostname()); err != nil {
				return // a name: resolving it is not for a fuzzer
			}
		}
		err := egress.Policy{}.CheckURL(context.Background(), raw)
		if err != nil || perr != nil {
			return
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			t.Fatalf("%q accepted with scheme %q", raw, u.Scheme)
		}
		if addr, aerr := netip.ParseAddr(u.Hostname()); aerr == nil && egress.Refusal(addr) != "" {
			t.Fatalf("%q accepted: %s", raw, egress.Refusal(addr))
		}
	})
}
