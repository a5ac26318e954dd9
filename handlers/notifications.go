package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"audiencebridge/models"
	"audiencebridge/views/components"
	"audiencebridge/views/layouts"
	"audiencebridge/views/pages/notifications"
)

// unreadCount is the number on the bell; a failure to count is logged and
// shows no number rather than failing the page.
func (h *Handlers) unreadCount(c echo.Context) int {
	me := Me(c)
	if me == nil {
		return 0
	}
	n, err := h.Store.UnreadNotifications(c.Request().Context(), me.ID)
	if err != nil {
		h.logger(c).Warn("count unread notifications", "error", err)
		return 0
	}
	return int(n)
}

// ownWebhook is the settings form of the operator's webhook.
func (h *Handlers) ownWebhook(c echo.Context) (notifications.WebhookVM, error) {
	id := Me(c).ID
	return h.webhookVM(c, &id, "/notifications/webhook",
		"Receives the events of your notifications: failed runs and match-rate drops of your lists and workflows.")
}

// webhookVM loads a webhook's settings form (operatorID nil: the global one).
func (h *Handlers) webhookVM(c echo.Context, operatorID *int64, action, scope string) (notifications.WebhookVM, error) {
	vm := notifications.WebhookVM{Action: action, Scope: scope, CSRF: h.Sessions.CSRFToken(c)}
	hook, err := h.Store.WebhookOf(c.Request().Context(), operatorID)
	switch {
	case errors.Is(err, models.ErrNotFound):
	case err != nil:
		return vm, err
	default:
		vm.Hook = hook
	}
	return vm, nil
}

// notificationsPage renders the notifications with a webhook form.
func (h *Handlers) notificationsPage(c echo.Context, status int, hook notifications.WebhookVM) error {
	ctx := c.Request().Context()
	me := Me(c)
	page, err := h.Store.ListNotifications(ctx, me.ID, pageRequest(c))
	if err != nil {
		return err
	}
	unread, err := h.Store.UnreadNotifications(ctx, me.ID)
	if err != nil {
		return err
	}
	vm := notifications.VM{URL: components.ListURL{Path: "/notifications", Query: queryOf(c, "page")}, Page: page, Unread: unread,
		CSRF: h.Sessions.CSRFToken(c), Webhook: hook}
	if wantsFragment(c, notifications.ResultsID) {
		return render(c, status, notifications.Results(vm))
	}
	f := h.Frame(c, "Notifications", "", layouts.Crumb{Label: "Notifications"})
	f.Subtitle = "Failed runs and sharp drops of the match rate of the lists and workflows you created."
	return render(c, status, notifications.Page(f, vm))
}

// ListNotifications shows the operator's notifications, newest first.
func (h *Handlers) ListNotifications(c echo.Context) error {
	hook, err := h.ownWebhook(c)
	if err != nil {
		return err
	}
	return h.notificationsPage(c, http.StatusOK, hook)
}

// MarkNotificationsRead marks all of the operator's notifications as read.
func (h *Handlers) MarkNotificationsRead(c echo.Context) error {
	n, err := h.Store.MarkNotificationsRead(c.Request().Context(), Me(c).ID)
	if err != nil {
		return err
	}
	h.flash(c, "success", fmt.Sprintf("%d notifications marked as read.", n))
	return redirect(c, "/notifications")
}

// OpenNotification marks one notification as read and opens its page.
func (h *Handlers) OpenNotification(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	n, err := h.Store.ReadNotification(c.Request().Context(), Me(c).ID, id)
	if err != nil {
		return err
	}
	return redirect(c, SafeNext(n.Href))
}

// SaveWebhook sets the operator's webhook and shows its secret once.
func (h *Handlers) SaveWebhook(c echo.Context) error {
	id := Me(c).ID
	hook, err := h.ownWebhook(c)
	if err != nil {
		return err
	}
	return h.saveWebhook(c, &hook, &id, func(status int) error { return h.notificationsPage(c, status, hook) })
}

// DeleteWebhook removes the operator's webhook.
func (h *Handlers) DeleteWebhook(c echo.Context) error {
	id := Me(c).ID
	return h.deleteWebhook(c, &id, "/notifications")
}

// saveWebhook sets a webhook from the form and renders the page with its
// secret (not a redirect: the secret must not travel in a cookie or a URL),
// or with the refused URL.
func (h *Handlers) saveWebhook(c echo.Context, vm *notifications.WebhookVM, operatorID *int64, page func(status int) error) error {
	raw := c.FormValue("url")
	secret, hook, err := h.Store.SetWebhook(c.Request().Context(), models.ActorOf(Me(c)), h.Secrets, operatorID, raw, h.Sync.Webhooks)
	if problems, ok := formProblems(err); ok {
		vm.URL, vm.Error = raw, problems.For("url")
		return page(statusOfProblem(err))
	}
	if err != nil {
		return err
	}
	vm.Hook, vm.NewSecret = hook, secret
	return page(http.StatusCreated)
}

// deleteWebhook removes a webhook and goes back to its page.
func (h *Handlers) deleteWebhook(c echo.Context, operatorID *int64, back string) error {
	err := h.Store.DeleteWebhook(c.Request().Context(), models.ActorOf(Me(c)), operatorID)
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		return err
	}
	h.flash(c, "success", "The webhook is removed: no more calls are made to it.")
	return redirect(c, back)
}
