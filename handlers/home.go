package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"audiencebridge/views/layouts"
	"audiencebridge/views/pages/home"
	"audiencebridge/views/pages/placeholder"
)

// ShowHome is the explorer's start page.
func (h *Handlers) ShowHome(c echo.Context) error {
	f := h.Frame(c, "Welcome, "+Me(c).DisplayName(), "home")
	f.Subtitle = "Share audiences with the Experience Cloud in seconds, with every record accounted for."
	return render(c, http.StatusOK, home.Page(f, home.VM{Operator: Me(c)}))
}

// node is an explorer node whose content arrives in a later release.
type node struct {
	nav, section, title string
	vm                  placeholder.VM
}

var nodes = map[string]node{
	"workflows": {"workflows", "Profiles and Targets", "Workflows", placeholder.VM{Icon: "flow", Title: "No workflows yet",
		Text: "Targeting workflows that export recipients to shared audiences will be listed here."}},
	"datasources": {"datasources", "Administration", "AMC Data sources", placeholder.VM{Icon: "database", Title: "No AMC data sources yet",
		Text: "The data sources that reconcile shared audiences with recipients will be managed here."}},
}

// ShowNode draws an explorer node that has no content yet.
func (h *Handlers) ShowNode(key string) echo.HandlerFunc {
	n := nodes[key]
	return func(c echo.Context) error {
		f := h.Frame(c, n.title, n.nav, layouts.Crumb{Label: n.section}, layouts.Crumb{Label: n.title})
		return render(c, http.StatusOK, placeholder.Page(f, n.vm))
	}
}
