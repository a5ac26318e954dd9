package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"audiencebridge/models"
	"audiencebridge/views/components"
	"audiencebridge/views/layouts"
	"audiencebridge/views/pages/operators"
)

var operatorsCrumbs = []layouts.Crumb{{Label: "Administration"}, {Label: "Operators", Href: "/admin/operators"}}

func crumbs(base []layouts.Crumb, more ...layouts.Crumb) []layouts.Crumb {
	return append(append([]layouts.Crumb(nil), base...), more...)
}

// ListOperators shows Administration › Operators, or only its results when
// HTMX refreshes them while the admin types a search.
func (h *Handlers) ListOperators(c echo.Context) error {
	q := models.OperatorQuery{Search: c.QueryParam("search"), Role: c.QueryParam("role"), Status: c.QueryParam("status"),
		Sort: c.QueryParam("sort"), Descending: c.QueryParam("desc") == "1", PageRequest: pageRequest(c)}
	page, err := h.Store.ListOperators(c.Request().Context(), q)
	if err != nil {
		return err
	}
	vm := operators.ListVM{URL: components.ListURL{Path: "/admin/operators", Query: queryOf(c, "search", "role", "status", "sort", "desc", "page")},
		Page: page, Me: Me(c), CSRF: h.Sessions.CSRFToken(c)}
	if wantsFragment(c, operators.ResultsID) {
		return render(c, http.StatusOK, operators.Results(vm))
	}
	f := h.Frame(c, "Operators", "operators", operatorsCrumbs...)
	f.Subtitle = "Who signs in to the console, with which role and entitlements."
	f.NewMenu = []layouts.MenuItem{{Label: "New operator…", Href: "/admin/operators/new", TestID: "new-operator"}}
	return render(c, http.StatusOK, operators.List(f, vm))
}

// NewOperator shows the creation form.
func (h *Handlers) NewOperator(c echo.Context) error {
	return h.operatorForm(c, http.StatusOK, operators.FormVM{Input: models.OperatorInput{Role: string(models.RoleMarketer)}})
}

func (h *Handlers) operatorForm(c echo.Context, status int, vm operators.FormVM) error {
	vm.CSRF = h.Sessions.CSRFToken(c)
	vm.Input.Password = "" // never sent back to the browser
	f := h.Frame(c, "New operator", "operators", crumbs(operatorsCrumbs, layouts.Crumb{Label: "New operator"})...)
	return render(c, status, operators.New(f, vm))
}

// CreateOperator stores a new operator from the form.
func (h *Handlers) CreateOperator(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "the form could not be read")
	}
	in := models.OperatorInput{Login: form.Get("login"), Name: form.Get("name"), Email: form.Get("email"),
		Role: form.Get("role"), Password: form.Get("password"), Entitlements: form["entitlements"]}
	op, err := h.Store.CreateOperator(c.Request().Context(), models.ActorOf(Me(c)), in)
	if vm, ok := formProblems(err); ok {
		return h.operatorForm(c, statusOfProblem(err), operators.FormVM{Input: in, Errors: vm})
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", fmt.Sprintf("Operator %s created.", op.Login))
	return redirect(c, operators.Href(op))
}

// formProblems turns validation and conflict errors into per-field messages
// for re-showing a form; ok is false for any other error.
func formProblems(err error) (models.ValidationErrors, bool) {
	var list models.ValidationErrors
	if errors.As(err, &list) {
		return list, true
	}
	var one *models.ValidationError
	if errors.As(err, &one) {
		return models.ValidationErrors{one}, true
	}
	var conflict *models.ConflictError
	if errors.As(err, &conflict) {
		return models.ValidationErrors{{Field: conflict.Field, Message: conflict.Message}}, true
	}
	return nil, false
}

func statusOfProblem(err error) int {
	if errors.Is(err, models.ErrConflict) {
		return http.StatusConflict
	}
	return http.StatusUnprocessableEntity
}

// ShowOperator shows an operator's card.
func (h *Handlers) ShowOperator(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	op, err := h.Store.OperatorByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return h.operatorCard(c, http.StatusOK, operators.CardVM{Op: op,
		Edit: models.OperatorUpdate{Name: op.Name, Email: op.Email, Role: string(op.Role)}})
}

func (h *Handlers) operatorCard(c echo.Context, status int, vm operators.CardVM) error {
	ctx := c.Request().Context()
	var err error
	if vm.Sessions, err = h.Store.CountOperatorSessions(ctx, vm.Op.ID); err != nil {
		return err
	}
	history, err := h.Store.ListAudit(ctx, models.AuditQuery{TargetType: "operator", TargetID: strconv.FormatInt(vm.Op.ID, 10),
		PageRequest: models.PageRequest{PageSize: 10}})
	if err != nil {
		return err
	}
	vm.Audit, vm.Me, vm.CSRF = history.Items, Me(c), h.Sessions.CSRFToken(c)
	f := h.Frame(c, vm.Op.DisplayName(), "operators", crumbs(operatorsCrumbs, layouts.Crumb{Label: vm.Op.Login})...)
	f.Subtitle = vm.Op.Role.Label() + " · " + vm.Op.Login
	return render(c, status, operators.Card(f, vm))
}

// UpdateOperator saves the card's name, e-mail and role.
func (h *Handlers) UpdateOperator(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	in := models.OperatorUpdate{Name: c.FormValue("name"), Email: c.FormValue("email"), Role: c.FormValue("role")}
	op, err := h.Store.UpdateOperator(c.Request().Context(), models.ActorOf(Me(c)), id, in)
	if problems, ok := formProblems(err); ok {
		current, lerr := h.Store.OperatorByID(c.Request().Context(), id)
		if lerr != nil {
			return lerr
		}
		return h.operatorCard(c, statusOfProblem(err), operators.CardVM{Op: current, Edit: in, EditErrors: problems})
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "Changes to "+op.Login+" saved.")
	return redirect(c, operators.Href(op))
}

// SetEntitlement grants or revokes an entitlement from a toggle. HTMX gets
// back only the row (or the card's entitlement list) and a toast.
func (h *Handlers) SetEntitlement(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	ent, err := models.ParseEntitlement(c.Param("entitlement"))
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, err.Error())
	}
	granted, err := strconv.ParseBool(c.FormValue("granted"))
	if err != nil {
		return models.Invalid("granted", "must be true or false")
	}
	op, err := h.Store.SetEntitlement(c.Request().Context(), models.ActorOf(Me(c)), id, ent, granted)
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("%s revoked from %s.", ent.Label(), op.Login)
	if granted {
		msg = fmt.Sprintf("%s granted to %s.", ent.Label(), op.Login)
	}
	return h.operatorChanged(c, op, msg)
}

// operatorChanged answers a change made from the list or the card.
func (h *Handlers) operatorChanged(c echo.Context, op *models.Operator, msg string) error {
	if !isHTMX(c) {
		h.flash(c, "success", msg)
		return redirect(c, operators.Href(op))
	}
	row := operators.RowVM{Op: op, Me: Me(c), CSRF: h.Sessions.CSRFToken(c)}
	toast := layouts.Toast(layouts.Flash{Kind: "success", Text: msg})
	if c.Request().Header.Get("HX-Target") == "operator-entitlements" {
		return render(c, http.StatusOK, joinComponents(operators.Entitlements(row), toast))
	}
	return render(c, http.StatusOK, joinComponents(operators.Row(row), toast))
}

// DisableOperator disables an operator and ends their sessions.
func (h *Handlers) DisableOperator(c echo.Context) error { return h.setDisabled(c, true) }

// EnableOperator lets a disabled operator sign in again.
func (h *Handlers) EnableOperator(c echo.Context) error { return h.setDisabled(c, false) }

func (h *Handlers) setDisabled(c echo.Context, disabled bool) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	op, err := h.Store.SetOperatorDisabled(c.Request().Context(), models.ActorOf(Me(c)), id, disabled)
	if err != nil {
		return err
	}
	msg := op.Login + " is enabled again."
	if disabled {
		msg = op.Login + " is disabled; their sessions have ended."
	}
	return h.operatorChanged(c, op, msg)
}

// ResetPassword sets a new password for an operator.
func (h *Handlers) ResetPassword(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	err = h.Store.SetPassword(c.Request().Context(), models.ActorOf(Me(c)), id, c.FormValue("password"))
	op, lerr := h.Store.OperatorByID(c.Request().Context(), id)
	if lerr != nil {
		return lerr
	}
	if problems, ok := formProblems(err); ok {
		return h.operatorCard(c, statusOfProblem(err), operators.CardVM{Op: op, PassError: problems.For("password"),
			Edit: models.OperatorUpdate{Name: op.Name, Email: op.Email, Role: string(op.Role)}})
	}
	if err != nil {
		return err
	}
	if op.ID == Me(c).ID {
		// Setting one's own password ends one's own session too: start anew.
		if err := h.Sessions.SignIn(c, op); err != nil {
			return err
		}
	}
	h.flash(c, "success", "New password set for "+op.Login+"; their open sessions have ended.")
	return redirect(c, operators.Href(op))
}
