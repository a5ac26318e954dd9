package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"audiencebridge/handlers"
	"audiencebridge/models"
	"audiencebridge/web/session"
)

const audienceLibrary = models.AudienceLibrary

// errSignInRequired is answered with a redirect to the sign-in page.
var errSignInRequired = echo.NewHTTPError(http.StatusUnauthorized, "sign in to continue")

func loadSession(s *session.Manager) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := s.Load(c); err != nil {
				return fmt.Errorf("load session: %w", err)
			}
			return next(c)
		}
	}
}

// csrf refuses unsafe requests that come from another site or that do not
// carry the session's CSRF token (form field _csrf, or the X-CSRF-Token
// header that HTMX sends). Unlike echo's middleware it checks the token even
// when the browser says the request is same-origin.
func csrf(s *session.Manager) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			switch c.Request().Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions:
				return next(c)
			}
			if site := c.Request().Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
				return echo.NewHTTPError(http.StatusForbidden, "this request came from another site and was refused: use the console's own pages")
			}
			token := c.Request().Header.Get("X-CSRF-Token")
			switch {
			case token != "":
			case strings.HasPrefix(c.Request().Header.Get(echo.HeaderContentType), echo.MIMEMultipartForm):
				// An upload is streamed, never parsed as a form (that would
				// spool the whole file first): its form carries the token in
				// the action URL.
				token = c.QueryParam("_csrf")
			default:
				token = c.FormValue("_csrf")
			}
			if !s.ValidCSRF(c, token) {
				return echo.NewHTTPError(http.StatusForbidden, "this form has expired or did not come from the console: reload the page and try again")
			}
			return next(c)
		}
	}
}

// bearerToken authenticates API requests by "Authorization: Bearer <token>";
// the token acts as its operator, with the same role and entitlements.
// Bearer tokens are not sent by browsers on their own, so the API needs no
// CSRF token.
func bearerToken(store *models.Store) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			auth := c.Request().Header.Get(echo.HeaderAuthorization)
			scheme, token, ok := strings.Cut(auth, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
				return echo.NewHTTPError(http.StatusUnauthorized, "send an API token as \"Authorization: Bearer <token>\"; create one under Your account > API tokens")
			}
			op, err := store.TokenOperator(c.Request().Context(), strings.TrimSpace(token))
			if errors.Is(err, models.ErrBadToken) {
				return echo.NewHTTPError(http.StatusUnauthorized, err.Error())
			}
			if err != nil {
				return err
			}
			session.SetOperator(c, op)
			return next(c)
		}
	}
}

func signedIn(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if session.Operator(c) == nil {
			return errSignInRequired
		}
		return next(c)
	}
}

func requireAdmin(action string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := session.Operator(c).RequireAdmin(action); err != nil {
				return err
			}
			return next(c)
		}
	}
}

func requireEntitlements(action string, ents ...models.Entitlement) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := session.Operator(c).Require(action, ents...); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// contentSecurityPolicy allows nothing inline: scripts and styles come from
// the console's own files only.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

func securityHeaders(s *session.Manager) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("Content-Security-Policy", contentSecurityPolicy)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Referrer-Policy", "same-origin")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
			if s.IsTLS(c) {
				h.Set("Strict-Transport-Security", "max-age=31536000")
			}
			if h.Get(echo.HeaderCacheControl) == "" {
				h.Set(echo.HeaderCacheControl, "no-store")
			}
			return next(c)
		}
	}
}

func requestLogger(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			// Every line logged for this request carries its ID.
			reqLog := log.With("request_id", c.Response().Header().Get(echo.HeaderXRequestID))
			c.SetRequest(c.Request().WithContext(handlers.WithLogger(c.Request().Context(), reqLog)))
			err := next(c)
			if err != nil {
				c.Error(err) // writes the response so the status below is final
			}
			attrs := []any{"method", c.Request().Method, "path", c.Request().URL.Path, "route", c.Path(), "status", c.Response().Status,
				"duration_ms", time.Since(start).Milliseconds()}
			if op := session.Operator(c); op != nil {
				attrs = append(attrs, "operator", op.Login)
			}
			reqLog.Info("request", attrs...)
			return nil
		}
	}
}

func recoverer(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				if r := recover(); r != nil {
					if r == http.ErrAbortHandler {
						panic(r)
					}
					log.Error("panic", "panic", fmt.Sprint(r), "stack", string(debug.Stack()),
						"request_id", c.Response().Header().Get(echo.HeaderXRequestID))
					err = fmt.Errorf("panic: %v", r)
				}
			}()
			return next(c)
		}
	}
}

// signInURL is where an anonymous browser is sent, coming back afterwards.
func signInURL(c echo.Context) string {
	next := c.Request().URL.RequestURI()
	if handlers.IsHTMX(c) {
		if cur, err := url.Parse(c.Request().Header.Get("HX-Current-URL")); err == nil {
			next = cur.RequestURI()
		}
	}
	if next == "/" || c.Request().Method != http.MethodGet && !handlers.IsHTMX(c) {
		return "/login"
	}
	return "/login?next=" + url.QueryEscape(next)
}
