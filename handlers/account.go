package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"audiencebridge/models"
	"audiencebridge/views/layouts"
	"audiencebridge/views/pages/account"
)

func (h *Handlers) accountPage(c echo.Context, status int, problems models.ValidationErrors) error {
	return h.renderAccount(c, status, account.VM{Errors: problems})
}

func (h *Handlers) renderAccount(c echo.Context, status int, vm account.VM) error {
	tokens, err := h.Store.ListAPITokens(c.Request().Context(), Me(c).ID)
	if err != nil {
		return err
	}
	vm.Operator, vm.CSRF, vm.Tokens = Me(c), h.Sessions.CSRFToken(c), tokens
	f := h.Frame(c, "Your account", "", layouts.Crumb{Label: "Your account"})
	return render(c, status, account.Page(f, vm))
}

// CreateToken makes a personal API token and shows it once.
func (h *Handlers) CreateToken(c echo.Context) error {
	name := c.FormValue("name")
	token, _, err := h.Store.CreateAPIToken(c.Request().Context(), models.ActorOf(Me(c)), Me(c).ID, name)
	if problems, ok := formProblems(err); ok {
		return h.renderAccount(c, statusOfProblem(err), account.VM{TokenName: name, TokenError: problems.For("name")})
	}
	if err != nil {
		return err
	}
	// Not a redirect: the token must not travel in a cookie or a URL.
	return h.renderAccount(c, http.StatusCreated, account.VM{NewToken: token})
}

// RevokeToken ends one of the operator's tokens.
func (h *Handlers) RevokeToken(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	if err := h.Store.RevokeAPIToken(c.Request().Context(), models.ActorOf(Me(c)), Me(c).ID, id); err != nil {
		return err
	}
	h.flash(c, "success", "The token is revoked: requests with it are refused from now on.")
	return redirect(c, "/account")
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
