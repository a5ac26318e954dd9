package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"audiencebridge/models"
	"audiencebridge/views/layouts"
	"audiencebridge/views/pages/externalaccounts"
)

func (h *Handlers) externalAccountsPage(c echo.Context, status int, failed *externalaccounts.AccountVM) error {
	accounts, err := h.Store.ListExternalAccounts(c.Request().Context())
	if err != nil {
		return err
	}
	vm := externalaccounts.VM{}
	for _, a := range accounts {
		card := externalaccounts.AccountVM{Account: a, Input: models.ExternalAccountInput{Mode: a.Mode, BaseURL: a.BaseURL}, CSRF: h.Sessions.CSRFToken(c)}
		if failed != nil && failed.Account.Name == a.Name {
			card.Input, card.Errors = failed.Input, failed.Errors
		}
		vm.Accounts = append(vm.Accounts, card)
	}
	f := h.Frame(c, "External accounts", "external-accounts", layouts.Crumb{Label: "Administration"}, layouts.Crumb{Label: "Platform"},
		layouts.Crumb{Label: "External accounts"})
	f.Subtitle = "Where the technical workflows importSharedAudience and exportSharedAudience find the audience library."
	return render(c, status, externalaccounts.Page(f, vm))
}

// ShowExternalAccounts shows both accounts.
func (h *Handlers) ShowExternalAccounts(c echo.Context) error {
	return h.externalAccountsPage(c, http.StatusOK, nil)
}

func (h *Handlers) accountName(c echo.Context) (string, error) {
	name := c.Param("name")
	if name != models.ImportAccount && name != models.ExportAccount {
		return "", echo.NewHTTPError(http.StatusNotFound, "no such external account")
	}
	return name, nil
}

// UpdateExternalAccount saves an account; secrets left empty are kept.
func (h *Handlers) UpdateExternalAccount(c echo.Context) error {
	name, err := h.accountName(c)
	if err != nil {
		return err
	}
	in := models.ExternalAccountInput{Mode: c.FormValue("mode"), BaseURL: c.FormValue("baseUrl"), Token: c.FormValue("token"),
		APIKey: c.FormValue("apiKey"), ClearAPIKey: c.FormValue("clearApiKey") == "1"}
	_, err = h.Store.UpdateExternalAccount(c.Request().Context(), models.ActorOf(Me(c)), h.Secrets, name, in)
	if problems, ok := formProblems(err); ok {
		in.Token, in.APIKey = "", ""
		return h.externalAccountsPage(c, statusOfProblem(err), &externalaccounts.AccountVM{Account: &models.ExternalAccount{Name: name}, Input: in, Errors: problems})
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", name+" saved. Use Test connection to check it.")
	return redirect(c, "/admin/external-accounts")
}

// TestExternalAccount reaches the account's library and says what it found.
func (h *Handlers) TestExternalAccount(c echo.Context) error {
	name, err := h.accountName(c)
	if err != nil {
		return err
	}
	msg, err := h.Libraries.Check(c.Request().Context(), name)
	if err != nil {
		return render(c, http.StatusOK, externalaccounts.TestResult(false, "The connection failed: "+err.Error()))
	}
	return render(c, http.StatusOK, externalaccounts.TestResult(true, capitalize(msg)))
}
