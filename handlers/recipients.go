package handlers

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"audiencebridge/models"
	"audiencebridge/views/components"
	"audiencebridge/views/layouts"
	"audiencebridge/views/pages/recipients"
)

var recipientsCrumbs = []layouts.Crumb{{Label: "Profiles and Targets"}, {Label: "Recipients", Href: "/recipients"}}

// ListRecipients shows Profiles and Targets › Recipients.
func (h *Handlers) ListRecipients(c echo.Context) error {
	ctx := c.Request().Context()
	page, err := h.Store.BrowseRecipients(ctx, models.RecipientQuery{Search: c.QueryParam("search"), Sort: c.QueryParam("sort"),
		Descending: c.QueryParam("desc") == "1"}, keysetOf(c))
	if err != nil {
		return err
	}
	ids := make([]int64, len(page.Items))
	for i, r := range page.Items {
		ids[i] = r.ID
	}
	visitors, err := h.Store.VisitorIDCounts(ctx, ids)
	if err != nil {
		return err
	}
	vm := recipients.ListVM{URL: components.ListURL{Path: "/recipients", Query: queryOf(c, "search", "sort", "desc", "pageSize")}, Page: page, Visitors: visitors}
	if wantsFragment(c, recipients.ResultsID) {
		return render(c, http.StatusOK, recipients.Results(vm))
	}
	f := h.Frame(c, "Recipients", "recipients", recipientsCrumbs...)
	f.Subtitle = "The people Campaign targets, with their CRM IDs and tracked visitor IDs."
	f.NewMenu = []layouts.MenuItem{
		{Label: "New recipient…", Href: "/recipients/new", TestID: "new-recipient"},
		{Label: "Import recipients…", Href: "/recipients/import", TestID: "import-recipients"},
	}
	return render(c, http.StatusOK, recipients.List(f, vm))
}

// keysetOf reads a keyset page's cursor (after, before, last) and size
// from the query string.
func keysetOf(c echo.Context) models.Keyset {
	return models.Keyset{After: c.QueryParam("after"), Before: c.QueryParam("before"), Last: c.QueryParam("last") == "1",
		Limit: pageRequest(c).PageSize}
}

func recipientInput(c echo.Context) models.RecipientInput {
	return models.RecipientInput{Email: c.FormValue("email"), FirstName: c.FormValue("firstName"), LastName: c.FormValue("lastName"),
		CRMID: c.FormValue("crmId"), VisitorIDs: strings.FieldsFunc(c.FormValue("visitorIds"), func(r rune) bool {
			return r == '\n' || r == '\r' || r == ',' || r == ' ' || r == '\t'
		})}
}

func (h *Handlers) recipientForm(c echo.Context, status int, vm recipients.FormVM) error {
	vm.CSRF = h.Sessions.CSRFToken(c)
	title := "New recipient"
	if vm.ID != 0 {
		title = "Edit " + vm.Input.Email
	}
	f := h.Frame(c, title, "recipients", crumbs(recipientsCrumbs, layouts.Crumb{Label: title})...)
	return render(c, status, recipients.Form(f, vm))
}

// NewRecipient shows the creation form.
func (h *Handlers) NewRecipient(c echo.Context) error {
	return h.recipientForm(c, http.StatusOK, recipients.FormVM{})
}

// CreateRecipient stores a recipient from the form.
func (h *Handlers) CreateRecipient(c echo.Context) error {
	in := recipientInput(c)
	r, err := h.Store.CreateRecipient(c.Request().Context(), in)
	if problems, ok := formProblems(err); ok {
		return h.recipientForm(c, statusOfProblem(err), recipients.FormVM{Input: in, Errors: problems})
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "Recipient "+r.Email+" created.")
	return redirect(c, recipients.Href(r))
}

// ShowRecipient shows a recipient with its visitor IDs and lists.
func (h *Handlers) ShowRecipient(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	r, err := h.Store.RecipientByID(ctx, id)
	if err != nil {
		return err
	}
	in, err := h.Store.RecipientLists(ctx, id)
	if err != nil {
		return err
	}
	regular, err := h.Store.RegularLists(ctx)
	if err != nil {
		return err
	}
	f := h.Frame(c, r.Email, "recipients", crumbs(recipientsCrumbs, layouts.Crumb{Label: r.Email})...)
	if r.FullName() != "" {
		f.Title, f.Subtitle = r.FullName(), r.Email
	}
	return render(c, http.StatusOK, recipients.Card(f, recipients.CardVM{Recipient: r, Lists: in, Regular: regular, CSRF: h.Sessions.CSRFToken(c)}))
}

// EditRecipient shows the edit form.
func (h *Handlers) EditRecipient(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	r, err := h.Store.RecipientByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return h.recipientForm(c, http.StatusOK, recipients.FormVM{ID: r.ID, Input: recipients.InputOf(r)})
}

// UpdateRecipient saves the edit form.
func (h *Handlers) UpdateRecipient(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	in := recipientInput(c)
	r, err := h.Store.UpdateRecipient(c.Request().Context(), id, in)
	if problems, ok := formProblems(err); ok {
		return h.recipientForm(c, statusOfProblem(err), recipients.FormVM{ID: id, Input: in, Errors: problems})
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "Recipient "+r.Email+" saved.")
	return redirect(c, recipients.Href(r))
}

// AddRecipientToList puts the recipient into a regular list.
func (h *Handlers) AddRecipientToList(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	listID, err := strconv.ParseInt(c.FormValue("list"), 10, 64)
	if err != nil {
		return models.Invalid("list", "choose a list")
	}
	ctx := c.Request().Context()
	if _, err := h.Store.RecipientByID(ctx, id); err != nil {
		return err
	}
	l, err := h.Store.ListByID(ctx, listID)
	if err != nil {
		return err
	}
	n, err := h.Store.AddListMembers(ctx, models.ActorOf(Me(c)), listID, []int64{id})
	if err != nil {
		return err
	}
	if n == 0 {
		h.flash(c, "info", fmt.Sprintf("The recipient was already in %s.", l.Label))
	} else {
		h.flash(c, "success", fmt.Sprintf("Added to %s.", l.Label))
	}
	return redirect(c, "/recipients/"+strconv.FormatInt(id, 10))
}
