// Package egress decides which addresses the console's outbound calls that
// operators configure (notification webhooks) may reach, so that a URL an
// operator types cannot make the server call itself, its neighbours or the
// cloud's metadata service (server-side request forgery).
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// Policy says which addresses outbound calls may reach. The zero value is
// the safe default: public unicast addresses only.
type Policy struct {
	// AllowPrivate also lets calls reach loopback, private, link-local and
	// other non-public addresses: for tests, demos, and deployments whose
	// receivers are on the internal network (--allow-private-webhooks).
	AllowPrivate bool
}

// RefusedError is a call to an address the policy does not allow.
type RefusedError struct {
	Host   string
	Addr   netip.Addr
	Reason string
}

func (e *RefusedError) Error() string {
	if e.Host != "" && e.Host != e.Addr.String() {
		return fmt.Sprintf("%s resolves to %s, %s", e.Host, e.Addr, e.Reason)
	}
	return fmt.Sprintf("%s is %s", e.Addr, e.Reason)
}

// special lists the non-public ranges that net/netip has no predicate for.
var special = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "a \"this network\" address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a carrier-grade NAT address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "a local NAT64 address"},
	{netip.MustParsePrefix("100::/64"), "a discard address"},
}

// Refusal says why a call to addr is refused under the default policy, or
// "" when addr is a public unicast address.
func Refusal(addr netip.Addr) string {
	addr = addr.Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	switch {
	case !addr.IsValid():
		return "not an IP address"
	case addr.IsUnspecified():
		return "the unspecified address"
	case addr.IsLoopback():
		return "a loopback address"
	case addr.IsLinkLocalUnicast():
		return "a link-local address (this includes the cloud metadata service 169.254.169.254)"
	case addr.IsMulticast(), addr.IsLinkLocalMulticast(), addr.IsInterfaceLocalMulticast():
		return "a multicast address"
	case addr.IsPrivate():
		return "a private-network address"
	case addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "the broadcast address"
	}
	for _, s := range special {
		if s.prefix.Contains(addr) {
			return s.reason
		}
	}
	return ""
}

// CheckAddr refuses an address the policy does not allow.
func (p Policy) CheckAddr(host string, addr netip.Addr) error {
	if p.AllowPrivate {
		return nil
	}
	if reason := Refusal(addr); reason != "" {
		return &RefusedError{Host: host, Addr: addr.Unmap(), Reason: reason}
	}
	return nil
}

// ErrScheme is a URL whose scheme is not http or https.
var ErrScheme = errors.New("only http:// and https:// URLs are called")

// LookupTimeout bounds the name resolution of CheckURL.
const LookupTimeout = 3 * time.Second

// CheckURL refuses a URL that is not http(s), or whose host is, or
// resolves to, an address the policy does not allow. A name that does not
// resolve now is not refused: the dialer checks again at call time, when
// DNS may answer differently anyway.
func (p Policy) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("parse the URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return ErrScheme
	}
	host := u.Hostname()
	if addr, err := netip.ParseAddr(host); err == nil {
		return p.CheckAddr(host, addr)
	}
	if p.AllowPrivate {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, LookupTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if err := p.CheckAddr(host, a); err != nil {
			return err
		}
	}
	return nil
}

// Control is a net.Dialer Control function that refuses to connect to an
// address the policy does not allow: it sees the address actually dialed,
// after name resolution, so a name that changed its answer since it was
// checked (DNS rebinding) is caught too.
func (p Policy) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, err)
	}
	return p.CheckAddr("", ap.Addr())
}

// Client is an HTTP client for calls to operator-given URLs: every call is
// bounded by timeout, follows no redirect (a signed call is not replayed
// elsewhere, and a redirect could lead to a refused address), uses no
// proxy from the environment, and dials only addresses the policy allows.
func (p Policy) Client(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: p.Control}
	transport := &http.Transport{
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          10,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{Timeout: timeout, Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
