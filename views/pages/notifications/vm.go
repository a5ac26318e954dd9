// Package notifications draws the operator's notifications (the bell's
// page) and the webhook settings form the diagnostics page reuses.
package notifications

import (
	"fmt"
	"time"

	"audiencebridge/models"
	"audiencebridge/views/components"
)

// ResultsID is the element that paging refreshes.
const ResultsID = "notification-results"

// VM is the notifications page.
type VM struct {
	URL     components.ListURL
	Page    models.Page[*models.Notification]
	Unread  int64
	CSRF    string
	Webhook WebhookVM
}

// Pager is the list's pager.
func (vm VM) Pager() components.Pager { return components.PagerFor(vm.Page, vm.URL, "#"+ResultsID) }

// CanMarkAll reports whether "Mark all as read" has anything to do.
func (vm VM) CanMarkAll() bool { return vm.Unread > 0 }

// KindLabel names a notification's kind.
func KindLabel(n *models.Notification) string {
	switch n.Kind {
	case models.NotifyRunFailed:
		return "Failed run"
	case models.NotifyMatchRateDrop:
		return "Match rate drop"
	}
	return string(n.Kind)
}

// KindBadge is the badge class of a notification's kind.
func KindBadge(n *models.Notification) string {
	if n.Kind == models.NotifyRunFailed {
		return "badge badge-danger"
	}
	return "badge badge-warning"
}

func when(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func readHref(n *models.Notification) string { return fmt.Sprintf("/notifications/%d/read", n.ID) }

// WebhookVM is the webhook settings form: an operator's on the
// notifications page, the global one on the diagnostics page.
type WebhookVM struct {
	// Action is where the form posts; Action+"/delete" removes the webhook.
	Action string
	// Scope says which events the webhook receives.
	Scope string
	Hook  *models.Webhook
	// URL and Error are a refused input, shown again.
	URL   string
	Error string
	// NewSecret is shown once, right after the webhook was set.
	NewSecret string
	CSRF      string
}

// Value is the URL the field shows.
func (w WebhookVM) Value() string {
	if w.URL != "" || w.Hook == nil {
		return w.URL
	}
	return w.Hook.URL
}

// LastDelivery says what the last call met.
func (w WebhookVM) LastDelivery() string {
	if w.Hook == nil || w.Hook.LastDeliveryAt == nil {
		return "No call yet."
	}
	return fmt.Sprintf("%s (%s).", w.Hook.LastDelivery, when(*w.Hook.LastDeliveryAt))
}
