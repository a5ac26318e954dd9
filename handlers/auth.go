package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"audiencebridge/models"
	"audiencebridge/views/pages/auth"
)

func (h *Handlers) loginVM(c echo.Context, login, next, problem string) auth.LoginVM {
	vm := auth.LoginVM{Login: login, Error: problem, CSRFToken: h.Sessions.CSRFToken(c), Demo: h.Demo, Flashes: h.takeFlashes(c)}
	if next != "" {
		vm.Next = SafeNext(next)
	}
	return vm
}

// ShowLogin shows the sign-in form, or sends a signed-in operator on.
func (h *Handlers) ShowLogin(c echo.Context) error {
	if Me(c) != nil {
		return redirect(c, SafeNext(c.QueryParam("next")))
	}
	return render(c, http.StatusOK, auth.Login(h.loginVM(c, "", c.QueryParam("next"), "")))
}

// Login checks the credentials and starts a new session.
func (h *Handlers) Login(c echo.Context) error {
	login, password, next := c.FormValue("login"), c.FormValue("password"), c.FormValue("next")
	var problem string
	status := http.StatusUnauthorized
	switch {
	case models.NormalizeLogin(login) == "" || password == "":
		problem, status = "Enter your login and your password.", http.StatusUnprocessableEntity
	case len(login) > models.MaxLoginLength:
		problem, status = "A login has at most 64 characters.", http.StatusUnprocessableEntity
	case len(password) > models.MaxPasswordLength:
		problem, status = "A password has at most 128 characters.", http.StatusUnprocessableEntity
	}
	if problem == "" {
		op, err := h.Store.Authenticate(c.Request().Context(), login, password, c.RealIP())
		var throttled *models.ThrottledError
		switch {
		case err == nil:
			if err := h.Sessions.SignIn(c, op); err != nil {
				return err
			}
			h.logger(c).Info("operator signed in", "login", op.Login)
			return redirect(c, SafeNext(next))
		case errors.Is(err, models.ErrBadCredentials):
			problem = "The login or the password is wrong."
		case errors.As(err, &throttled):
			problem, status = capitalize(throttled.Error())+".", http.StatusTooManyRequests
			c.Response().Header().Set("Retry-After", retryAfter(throttled))
		case errors.Is(err, models.ErrOperatorDisabled):
			problem, status = capitalize(err.Error())+".", http.StatusForbidden
		default:
			return err
		}
		h.logger(c).Info("sign-in refused", "login", models.NormalizeLogin(login), "reason", problem)
	}
	return render(c, status, auth.Login(h.loginVM(c, models.NormalizeLogin(login), next, problem)))
}

// Logout ends the session on the server and in the browser.
func (h *Handlers) Logout(c echo.Context) error {
	if err := h.Sessions.SignOut(c); err != nil {
		return err
	}
	h.flash(c, "success", "You have signed out.")
	return redirect(c, "/login")
}
