// Package session keeps who is signed in: an encrypted, signed cookie holds
// the server-side session token, the CSRF token and flash messages; the
// session itself (and so sign-out, idle and absolute expiry) lives in the
// database.
package session

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/gob"
	"errors"
	"fmt"
	"net/http"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"audiencebridge/models"
)

// CookieName is the name of the session cookie.
const CookieName = "ab_session"

const (
	keySessionToken = "sid"
	keyCSRF         = "csrf"
	ctxSession      = "ab.session"
	ctxOperator     = "ab.operator"
)

// Flash is a message shown once on the next page.
type Flash struct {
	Kind string // success, error, info or warning
	Text string
}

func init() { gob.Register(Flash{}) }

// Manager signs operators in and out and reads the session of a request.
type Manager struct {
	cookies    *sessions.CookieStore
	store      *models.Store
	policy     models.SessionPolicy
	trustProxy bool
}

// NewManager derives the cookie keys from secret, which must be at least 32
// bytes; rotating the secret signs everybody out.
func NewManager(store *models.Store, secret []byte, policy models.SessionPolicy, trustProxy bool) (*Manager, error) {
	if len(secret) < 32 {
		return nil, errors.New("the session secret must be at least 32 bytes")
	}
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	cs := sessions.NewCookieStore(derive("audiencebridge session authentication"), derive("audiencebridge session encryption"))
	cs.Options = &sessions.Options{Path: "/", MaxAge: int(policy.MaxAge.Seconds()), HttpOnly: true, SameSite: http.SameSiteLaxMode}
	cs.MaxAge(int(policy.MaxAge.Seconds()))
	return &Manager{cookies: cs, store: store, policy: policy, trustProxy: trustProxy}, nil
}

// Policy returns the idle and absolute limits of sessions.
func (m *Manager) Policy() models.SessionPolicy { return m.policy }

// IsTLS reports whether the browser reached us over TLS, directly or through
// a trusted proxy; cookies are marked Secure then.
func (m *Manager) IsTLS(c echo.Context) bool {
	r := c.Request()
	return r.TLS != nil || (m.trustProxy && r.Header.Get(echo.HeaderXForwardedProto) == "https")
}

func (m *Manager) cookie(c echo.Context) *sessions.Session {
	if s, ok := c.Get(ctxSession).(*sessions.Session); ok {
		return s
	}
	// A cookie that does not decode (old keys, tampering) yields a new session.
	s, _ := m.cookies.Get(c.Request(), CookieName)
	s.Options.Secure = m.IsTLS(c)
	c.Set(ctxSession, s)
	return s
}

func (m *Manager) save(c echo.Context) error {
	if err := m.cookie(c).Save(c.Request(), c.Response()); err != nil {
		return fmt.Errorf("save session cookie: %w", err)
	}
	return nil
}

// Load finds the signed-in operator of the request, if any, and makes sure
// the session has a CSRF token. It is run by middleware before handlers.
func (m *Manager) Load(c echo.Context) error {
	s := m.cookie(c)
	changed := false
	if _, ok := s.Values[keyCSRF].(string); !ok {
		tok, err := models.NewToken()
		if err != nil {
			return err
		}
		s.Values[keyCSRF] = tok
		changed = true
	}
	if token, ok := s.Values[keySessionToken].(string); ok {
		op, err := m.store.SessionOperator(c.Request().Context(), token, m.policy)
		switch {
		case err == nil:
			c.Set(ctxOperator, op)
		case errors.Is(err, models.ErrSessionExpired):
			delete(s.Values, keySessionToken)
			s.AddFlash(Flash{Kind: "warning", Text: "Your session has expired. Sign in again to continue."})
			changed = true
		default:
			return err
		}
	}
	if changed {
		return m.save(c)
	}
	return nil
}

// SetOperator records who a request acts as, for requests authenticated
// another way than the session cookie (API bearer tokens).
func SetOperator(c echo.Context, op *models.Operator) { c.Set(ctxOperator, op) }

// Operator returns the signed-in operator, or nil.
func Operator(c echo.Context) *models.Operator {
	op, _ := c.Get(ctxOperator).(*models.Operator)
	return op
}

// CSRFToken returns the token that forms and HTMX requests must send back.
func (m *Manager) CSRFToken(c echo.Context) string {
	tok, _ := m.cookie(c).Values[keyCSRF].(string)
	return tok
}

// ValidCSRF compares a submitted token with the session's in constant time.
func (m *Manager) ValidCSRF(c echo.Context, submitted string) bool {
	want := m.CSRFToken(c)
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(submitted)) == 1
}

// SignIn starts a new session for op. Everything in the old cookie is
// discarded and both tokens are new, so a session identifier planted before
// sign-in is worthless afterwards.
func (m *Manager) SignIn(c echo.Context, op *models.Operator) error {
	ctx := c.Request().Context()
	s := m.cookie(c)
	if old, ok := s.Values[keySessionToken].(string); ok {
		if err := m.store.DeleteSession(ctx, old); err != nil {
			return err
		}
	}
	token, err := m.store.CreateSession(ctx, op.ID, m.policy, c.RealIP(), c.Request().UserAgent())
	if err != nil {
		return err
	}
	csrf, err := models.NewToken()
	if err != nil {
		return err
	}
	s.Values = map[any]any{keySessionToken: token, keyCSRF: csrf}
	c.Set(ctxOperator, op)
	return m.save(c)
}

// SignOut ends the session on the server, so the cookie is useless even if
// it was copied.
func (m *Manager) SignOut(c echo.Context) error {
	s := m.cookie(c)
	if token, ok := s.Values[keySessionToken].(string); ok {
		if err := m.store.DeleteSession(c.Request().Context(), token); err != nil {
			return err
		}
	}
	csrf, err := models.NewToken()
	if err != nil {
		return err
	}
	s.Values = map[any]any{keyCSRF: csrf}
	c.Set(ctxOperator, nil)
	return m.save(c)
}

// AddFlash queues a message for the next page.
func (m *Manager) AddFlash(c echo.Context, kind, text string) error {
	m.cookie(c).AddFlash(Flash{Kind: kind, Text: text})
	return m.save(c)
}

// Flashes returns and clears the queued messages.
func (m *Manager) Flashes(c echo.Context) ([]Flash, error) {
	raw := m.cookie(c).Flashes()
	if len(raw) == 0 {
		return nil, nil
	}
	out := make([]Flash, 0, len(raw))
	for _, f := range raw {
		if fl, ok := f.(Flash); ok {
			out = append(out, fl)
		}
	}
	return out, m.save(c)
}
