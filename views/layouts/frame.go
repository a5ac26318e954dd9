// Package layouts holds the console frame (navigation tree, action bar,
// breadcrumbs, flash messages) and the bare frame of the sign-in page.
package layouts

import (
	"audiencebridge/models"
)

// Crumb is one step of the breadcrumbs; the last one has no link.
type Crumb struct {
	Label string
	Href  string
}

// Flash is a message shown at the top of the page.
type Flash struct {
	Kind string
	Text string
}

// MenuItem is an entry of the action bar's New menu. A disabled entry says
// why it is unavailable.
type MenuItem struct {
	Label    string
	Href     string
	TestID   string
	Disabled bool
	Hint     string
}

// Frame is everything the console layout shows around a page.
type Frame struct {
	Title       string
	Subtitle    string
	Nav         string // key of the selected navigation item
	Breadcrumbs []Crumb
	NewMenu     []MenuItem
	Operator    *models.Operator
	CSRFToken   string
	Flashes     []Flash
	// Unread is the number on the notifications bell.
	Unread int
	// HideHeading leaves out the action bar, for pages with a heading of
	// their own such as error pages.
	HideHeading bool
}

// NavItem is a node of the navigation tree.
type NavItem struct {
	Key   string
	Label string
	Href  string
	Icon  string
}

// NavSection is a folder of the navigation tree.
type NavSection struct {
	Label string
	Items []NavItem
}

// NavTree is the explorer tree the operator may open: administration is
// listed for administrators only (and refused to others on the server).
func (f Frame) NavTree() []NavSection {
	tree := []NavSection{
		{Label: "Profiles and Targets", Items: []NavItem{
			{Key: "recipients", Label: "Recipients", Href: "/recipients", Icon: "people"},
			{Key: "lists", Label: "Lists", Href: "/lists", Icon: "list"},
			{Key: "workflows", Label: "Workflows", Href: "/workflows", Icon: "flow"},
		}},
		{Label: "Audience library", Items: []NavItem{
			{Key: "library", Label: "Shared audiences", Href: "/library", Icon: "share"},
		}},
	}
	if f.Operator != nil && f.Operator.IsAdmin() {
		tree = append(tree, NavSection{Label: "Administration", Items: []NavItem{
			{Key: "operators", Label: "Operators", Href: "/admin/operators", Icon: "user"},
			{Key: "datasources", Label: "AMC Data sources", Href: "/admin/datasources", Icon: "database"},
			{Key: "external-accounts", Label: "External accounts", Href: "/admin/external-accounts", Icon: "link"},
			{Key: "audit", Label: "Audit log", Href: "/admin/audit", Icon: "history"},
			{Key: "diagnostics", Label: "Diagnostics", Href: "/admin/diagnostics", Icon: "search"},
		}})
	}
	return tree
}

// PageTitle is the document title.
func (f Frame) PageTitle() string {
	if f.Title == "" {
		return "Audience Bridge"
	}
	return f.Title + " · Audience Bridge"
}

// CSRFHeaders is the hx-headers value that makes every HTMX request carry
// the CSRF token.
func (f Frame) CSRFHeaders() string {
	return `{"X-CSRF-Token":"` + f.CSRFToken + `"}`
}

// FlashClass maps a flash kind to its style.
func FlashClass(kind string) string {
	switch kind {
	case "success", "error", "warning":
		return "flash flash-" + kind
	}
	return "flash flash-info"
}

// FlashRole lets screen readers announce errors at once and the rest politely.
func FlashRole(kind string) string {
	if kind == "error" {
		return "alert"
	}
	return "status"
}

// htmxConfig keeps htmx within the Content-Security-Policy (no injected
// styles, no eval) and lets error answers through: the server marks them
// HX-Reswap: none and sends an out-of-band toast that says what went wrong.
const htmxConfig = `{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"historyCacheSize":0,` +
	`"responseHandling":[{"code":"204","swap":false},{"code":"[23]..","swap":true},{"code":"[45]..","swap":true,"error":true}]}`
