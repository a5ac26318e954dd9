// Package handlers turns HTTP requests into calls on the models and picks the
// view to answer with. Handlers parse input and return errors; the web
// package maps errors to statuses in one place.
package handlers

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"audiencebridge/audiencesync"
	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/views/layouts"
	"audiencebridge/web/session"
)

// Handlers holds what every handler needs.
type Handlers struct {
	Store    *models.Store
	Sessions *session.Manager
	Log      *slog.Logger
	// Demo is set when the console runs with demo data; the sign-in page
	// says where the demo credentials were printed.
	Demo bool
	// Jobs enqueues background work (imports, syncs).
	Jobs Enqueuer
	// MaxUploadBytes bounds an uploaded file.
	MaxUploadBytes int64
	// Library is the audience library the console shows and syncs with.
	Library library.Library
	// Secrets seals the secrets of external accounts.
	Secrets *models.SecretBox
	// Libraries resolves the library an external account points at.
	Libraries *library.Resolver
	// Sync requests, previews and retries audience syncs.
	Sync *audiencesync.Service
}

// logKey holds the request's logger in its context.
type logKey struct{}

// WithLogger returns ctx carrying a logger with the request's attributes
// (its request ID), which every line logged for the request then has.
func WithLogger(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, logKey{}, log)
}

// logger is the request's logger.
func (h *Handlers) logger(c echo.Context) *slog.Logger {
	if l, ok := c.Request().Context().Value(logKey{}).(*slog.Logger); ok {
		return l
	}
	return h.Log
}

// Me returns the signed-in operator. Routes behind the sign-in guard always
// have one.
func Me(c echo.Context) *models.Operator { return session.Operator(c) }

// render writes a component with a status. It renders into a buffer first so
// that a failure half-way produces a clean error page, not half a page.
func render(c echo.Context, status int, t templ.Component) error {
	var buf bytes.Buffer
	if err := t.Render(c.Request().Context(), &buf); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// Render is render for the web package's error pages.
func Render(c echo.Context, status int, t templ.Component) error { return render(c, status, t) }

// isHTMX reports whether the request is an HTMX partial request (not a
// boosted navigation, which wants the whole page).
func isHTMX(c echo.Context) bool {
	h := c.Request().Header
	return h.Get("HX-Request") == "true" && h.Get("HX-Boosted") != "true"
}

// IsHTMX is isHTMX for the web package.
func IsHTMX(c echo.Context) bool { return isHTMX(c) }

// wantsFragment reports whether an HTMX request asked to refresh the element
// with this id; the handler then renders only that fragment.
func wantsFragment(c echo.Context, id string) bool {
	return isHTMX(c) && c.Request().Header.Get("HX-Target") == id
}

// Frame builds the console frame of a page: the operator, the CSRF token and
// the flash messages waiting for this page.
func (h *Handlers) Frame(c echo.Context, title, nav string, crumbs ...layouts.Crumb) layouts.Frame {
	return layouts.Frame{Title: title, Nav: nav, Breadcrumbs: crumbs, Operator: Me(c), CSRFToken: h.Sessions.CSRFToken(c),
		Flashes: h.takeFlashes(c), Unread: h.unreadCount(c)}
}

// takeFlashes returns the messages queued for this page and clears them.
func (h *Handlers) takeFlashes(c echo.Context) []layouts.Flash {
	flashes, err := h.Sessions.Flashes(c)
	if err != nil {
		h.logger(c).Warn("read flash messages", "error", err)
	}
	out := make([]layouts.Flash, 0, len(flashes))
	for _, fl := range flashes {
		out = append(out, layouts.Flash{Kind: fl.Kind, Text: fl.Text})
	}
	return out
}

// flash queues a message for the next page, logging (not failing) when the
// cookie cannot be written: the change it reports has already happened.
func (h *Handlers) flash(c echo.Context, kind, text string) {
	if err := h.Sessions.AddFlash(c, kind, text); err != nil {
		h.logger(c).Warn("queue flash message", "error", err)
	}
}

// redirect answers a form post with 303 See Other.
func redirect(c echo.Context, to string) error { return c.Redirect(http.StatusSeeOther, to) }

// pathID parses a numeric path parameter; a malformed one is a missing page.
func pathID(c echo.Context, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, echo.NewHTTPError(http.StatusNotFound, "no such page")
	}
	return id, nil
}

// pageRequest reads page (from 0) and pageSize from the query string.
func pageRequest(c echo.Context) models.PageRequest {
	page, _ := strconv.Atoi(c.QueryParam("page"))     // a malformed number means the first page
	size, _ := strconv.Atoi(c.QueryParam("pageSize")) // and the default size
	return models.PageRequest{Page: page, PageSize: size}.Normalize()
}

// queryOf copies the named query parameters that are set, for list URLs.
func queryOf(c echo.Context, names ...string) url.Values {
	q := url.Values{}
	for _, n := range names {
		if v := strings.TrimSpace(c.QueryParam(n)); v != "" {
			q.Set(n, v)
		}
	}
	return q
}

// SafeNext returns a local path to go to after sign-in, or "/" when next is
// missing or points elsewhere (an open redirect otherwise).
func SafeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return next
}
