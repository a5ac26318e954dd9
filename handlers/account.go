package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"audiencebridge/models"
	"audiencebridge/views/layouts"
	"audiencebridge/views/pages/account"
)

func (h *Handlers) accountPage(c echo.Context, status int, problems models.ValidationErrors) error {
	f := h.Frame(c, "Your account", "", layouts.Crumb{Label: "Your account"})
	return render(c, status, account.Page(f, account.VM{Operator: Me(c), CSRF: h.Sessions.CSRFToken(c), Errors: problems}))
}

// ShowAccount shows the operator's own rights and the password form.
func (h *Handlers) ShowAccount(c echo.Context) error { return h.accountPage(c, http.StatusOK, nil) }

// ChangePassword changes the operator's own password after checking the
// current one, then starts a fresh session (all others end).
func (h *Handlers) ChangePassword(c echo.Context) error {
	me := Me(c)
	current, password, confirm := c.FormValue("current"), c.FormValue("password"), c.FormValue("confirm")
	var problems models.ValidationErrors
	ok, err := models.CheckPassword(me.PasswordHash, current)
	if err != nil {
		return err
	}
	if !ok {
		problems.Add("current", "this is not your current password")
	}
	models.ValidatePassword(&problems, "password", password)
	if password != confirm {
		problems.Add("confirm", "the two new passwords differ")
	}
	if len(problems) > 0 {
		return h.accountPage(c, http.StatusUnprocessableEntity, problems)
	}
	if err := h.Store.SetPassword(c.Request().Context(), models.ActorOf(me), me.ID, password); err != nil {
		return err
	}
	if err := h.Sessions.SignIn(c, me); err != nil {
		return err
	}
	h.flash(c, "success", "Your password has been changed; your other sessions have ended.")
	return redirect(c, "/account")
}
