package web

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"audiencebridge/handlers"
	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/views/layouts"
	"audiencebridge/views/pages/errorpage"
	"audiencebridge/web/session"
)

// problem is an error as the operator sees it.
type problem struct {
	status  int
	title   string
	message string
	field   string
	denied  *models.AccessDenied
	// bodyLimit: refused by the request body limit, MaxFormBytes.
	bodyLimit bool
}

// classify maps every error to its status: this is the one place where
// domain errors become HTTP answers.
func classify(err error) problem {
	var (
		httpErr   *echo.HTTPError
		denied    *models.AccessDenied
		invalid   *models.ValidationError
		conflict  *models.ConflictError
		throttled *models.ThrottledError
	)
	switch {
	case errors.As(err, &denied):
		return problem{status: http.StatusForbidden, title: "You do not have access to this", message: capitalizeSentence(denied.Error()), denied: denied}
	case errors.As(err, &invalid):
		return problem{status: http.StatusUnprocessableEntity, title: "Some input is not valid", message: err.Error(), field: invalid.Field}
	case errors.As(err, &conflict):
		return problem{status: http.StatusConflict, title: "This change was refused", message: conflict.Message, field: conflict.Field}
	case errors.As(err, &throttled):
		return problem{status: http.StatusTooManyRequests, title: "Too many attempts", message: throttled.Error()}
	case errors.Is(err, library.ErrUnavailable):
		return problem{status: http.StatusBadGateway, title: "The audience library is unavailable",
			message: capitalizeSentence(err.Error()) + " Check Administration › Platform › External accounts, or try again later."}
	case errors.Is(err, models.ErrNotFound):
		return problem{status: http.StatusNotFound, title: "Not found", message: "This " + strings.TrimSuffix(err.Error(), ": not found") + " does not exist, or no longer does."}
	case errors.As(err, &httpErr):
		p := problem{status: httpErr.Code, title: http.StatusText(httpErr.Code), message: messageOf(httpErr)}
		switch httpErr.Code {
		case http.StatusNotFound:
			p.title, p.message = "Page not found", "There is no page at this address. Check the link, or start again from the explorer."
		case http.StatusMethodNotAllowed:
			p.message = "This address does not accept that kind of request."
		case http.StatusRequestEntityTooLarge:
			// The body limit's own answer says nothing useful; a handler's
			// (an upload over its limit) is kept.
			p.title = "Too much data"
			if httpErr.Message == http.StatusText(http.StatusRequestEntityTooLarge) {
				p.message = "The request is larger than the console accepts (1 MB for forms)."
				p.bodyLimit = true
			}
		case http.StatusForbidden:
			p.title = "Request refused"
		}
		return p
	}
	return problem{status: http.StatusInternalServerError, title: "Something went wrong",
		message: "The console hit an unexpected error. It has been logged; quote the request ID below when you report it."}
}

func messageOf(e *echo.HTTPError) string {
	if s, ok := e.Message.(string); ok {
		return capitalizeSentence(s)
	}
	return http.StatusText(e.Code)
}

func capitalizeSentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

func wantsJSON(c echo.Context) bool {
	p := c.Request().URL.Path
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/aam/") || p == "/healthz" ||
		strings.Contains(c.Request().Header.Get(echo.HeaderAccept), echo.MIMEApplicationJSON)
}

func errorHandler(h *handlers.Handlers, log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		p := classify(err)
		reqID := c.Response().Header().Get(echo.HeaderXRequestID)
		if p.status >= 500 {
			log.Error("request failed", "error", err, "path", c.Request().URL.Path, "request_id", reqID)
		}
		if werr := writeProblem(h, c, p, reqID); werr != nil {
			log.Error("write error response", "error", werr, "request_id", reqID)
		}
	}
}

func writeProblem(h *handlers.Handlers, c echo.Context, p problem, reqID string) error {
	switch {
	case wantsJSON(c):
		if p.bodyLimit {
			p.message = "The request body is larger than the 1 MB the API accepts for a JSON body: send less at once (files go to the import and batch-file endpoints, which take more)."
			p.field = "body"
		}
		body := map[string]string{"error": p.message}
		if p.field != "" {
			body["field"] = p.field
		}
		return c.JSON(p.status, body)
	case p.status == http.StatusUnauthorized && handlers.IsHTMX(c):
		c.Response().Header().Set("HX-Redirect", signInURL(c))
		return c.NoContent(http.StatusUnauthorized)
	case p.status == http.StatusUnauthorized:
		return c.Redirect(http.StatusSeeOther, signInURL(c))
	case handlers.IsHTMX(c):
		// Keep the page as it is and say what went wrong in a toast.
		c.Response().Header().Set("HX-Reswap", "none")
		return handlers.Render(c, p.status, layouts.Toast(layouts.Flash{Kind: "error", Text: p.message}))
	}
	vm := errorpage.VM{Status: p.status, Title: p.title, Message: p.message, RequestID: reqID, Denied: p.denied}
	if session.Operator(c) != nil {
		vm.SignedIn = true
		f := h.Frame(c, p.title, "")
		f.HideHeading = true
		return handlers.Render(c, p.status, errorpage.Page(f, vm))
	}
	return handlers.Render(c, p.status, errorpage.BarePage(vm))
}
