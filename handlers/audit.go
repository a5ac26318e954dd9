package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"audiencebridge/models"
	"audiencebridge/views/components"
	"audiencebridge/views/layouts"
	"audiencebridge/views/pages/audit"
)

// ListAudit shows the audit log, newest first, searchable and filterable.
func (h *Handlers) ListAudit(c echo.Context) error {
	ctx := c.Request().Context()
	page, err := h.Store.ListAudit(ctx, models.AuditQuery{Search: c.QueryParam("search"), Action: c.QueryParam("action"),
		TargetType: c.QueryParam("target"), TargetID: c.QueryParam("id"), PageRequest: pageRequest(c)})
	if err != nil {
		return err
	}
	actions, err := h.Store.AuditActions(ctx)
	if err != nil {
		return err
	}
	vm := audit.VM{URL: components.ListURL{Path: "/admin/audit", Query: queryOf(c, "search", "action", "target", "id", "page")},
		Page: page, Actions: actions}
	if wantsFragment(c, audit.ResultsID) {
		return render(c, http.StatusOK, audit.Results(vm))
	}
	f := h.Frame(c, "Audit log", "audit", layouts.Crumb{Label: "Administration"}, layouts.Crumb{Label: "Audit log"})
	f.Subtitle = "Every change to operators and their entitlements: who, what, when, before and after."
	return render(c, http.StatusOK, audit.Page(f, vm))
}
