package handlers

import (
	"encoding/csv"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"audiencebridge/models"
	"audiencebridge/views/components"
	"audiencebridge/views/layouts"
	"audiencebridge/views/pages/audit"
)

// auditFilters are the query parameters of the audit log and its export.
var auditFilters = []string{"search", "action", "actor", "from", "to", "target", "id"}

// auditQuery reads the filters: from and to are days (UTC), both included.
func auditQuery(c echo.Context) (models.AuditQuery, error) {
	q := models.AuditQuery{Search: c.QueryParam("search"), Action: c.QueryParam("action"), Actor: c.QueryParam("actor"),
		TargetType: c.QueryParam("target"), TargetID: c.QueryParam("id"), PageRequest: pageRequest(c)}
	for _, f := range []struct {
		name string
		set  func(time.Time)
	}{
		{"from", func(d time.Time) { q.From = d }},
		{"to", func(d time.Time) { q.Before = d.AddDate(0, 0, 1) }},
	} {
		v := strings.TrimSpace(c.QueryParam(f.name))
		if v == "" {
			continue
		}
		d, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return q, models.Invalid(f.name, "enter a date as YYYY-MM-DD, e.g. 2025-03-31")
		}
		f.set(d)
	}
	if !q.From.IsZero() && !q.Before.IsZero() && !q.Before.After(q.From) {
		return q, models.Invalid("to", "the end date is before the start date")
	}
	return q, nil
}

// ListAudit shows the audit log, newest first, searchable and filterable.
func (h *Handlers) ListAudit(c echo.Context) error {
	ctx := c.Request().Context()
	q, err := auditQuery(c)
	if err != nil {
		return err
	}
	page, err := h.Store.ListAudit(ctx, q)
	if err != nil {
		return err
	}
	actions, err := h.Store.AuditActions(ctx)
	if err != nil {
		return err
	}
	actors, err := h.Store.AuditActors(ctx)
	if err != nil {
		return err
	}
	vm := audit.VM{URL: components.ListURL{Path: "/admin/audit", Query: queryOf(c, append(auditFilters, "page")...)},
		Page: page, Actions: actions, Actors: actors}
	if wantsFragment(c, audit.ResultsID) {
		return render(c, http.StatusOK, audit.Results(vm))
	}
	f := h.Frame(c, "Audit log", "audit", layouts.Crumb{Label: "Administration"}, layouts.Crumb{Label: "Audit log"})
	f.Subtitle = "Every change to lists, workflows, data sources, external accounts, operators and their entitlements: who, what, when, before and after."
	return render(c, http.StatusOK, audit.Page(f, vm))
}

// ExportAudit streams the events the filters select as CSV, newest first,
// reading them from the database in batches.
func (h *Handlers) ExportAudit(c echo.Context) error {
	q, err := auditQuery(c)
	if err != nil {
		return err
	}
	q.PageRequest = models.PageRequest{PageSize: models.MaxPageSize} // the batch size
	name := "audit-" + h.Store.Now().UTC().Format("20060102-150405") + ".csv"
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	res.Header().Set(echo.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	res.WriteHeader(http.StatusOK)
	w := csv.NewWriter(res)
	if err := w.Write([]string{"id", "at", "actor", "actor_id", "action", "target_type", "target_id", "target_label", "summary", "before", "after"}); err != nil {
		return err
	}
	err = h.Store.EachAudit(c.Request().Context(), q, func(ev *models.AuditEvent) error {
		actorID := ""
		if ev.ActorID != nil {
			actorID = strconv.FormatInt(*ev.ActorID, 10)
		}
		return w.Write(neutralize([]string{strconv.FormatInt(ev.ID, 10), ev.At.UTC().Format(time.RFC3339), ev.Actor, actorID, ev.Action,
			ev.TargetType, ev.TargetID, ev.TargetLabel, ev.Summary, ev.BeforeJSON, ev.AfterJSON}))
	})
	w.Flush()
	if err != nil {
		// The header is sent, so the error handler can no longer answer:
		// the truncated file is all the operator gets, and the log says why.
		h.logger(c).Error("audit export cut short", "error", err)
		return fmt.Errorf("export the audit log: %w", err)
	}
	return w.Error()
}
