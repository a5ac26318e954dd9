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
	"audiencebridge/views/pages/lists"
)

var listsCrumbs = []layouts.Crumb{{Label: "Profiles and Targets"}, {Label: "Lists", Href: "/lists"}}

// MaxEmailsPerAdd bounds the addresses pasted into a list at once; more go
// through a CSV import.
const MaxEmailsPerAdd = 5000

// ListLists shows Profiles and Targets › Lists.
func (h *Handlers) ListLists(c echo.Context) error {
	page, err := h.Store.ListLists(c.Request().Context(), models.ListQuery{Search: c.QueryParam("search"), Type: c.QueryParam("type"),
		Sort: c.QueryParam("sort"), Descending: c.QueryParam("desc") == "1", Summary: true, PageRequest: pageRequest(c)})
	if err != nil {
		return err
	}
	runs, err := h.Store.RunSummaries(c.Request().Context(), lastRunIDs(page.Items))
	if err != nil {
		return err
	}
	vm := lists.ListVM{URL: components.ListURL{Path: "/lists", Query: queryOf(c, "search", "type", "sort", "desc", "page")}, Page: page, Runs: runs}
	if wantsFragment(c, lists.ResultsID) {
		return render(c, http.StatusOK, lists.Results(vm))
	}
	f := h.Frame(c, "Lists", "lists", listsCrumbs...)
	f.Subtitle = "Recipient lists: built by hand, imported from a file, or synchronised with a shared audience."
	f.NewMenu = []layouts.MenuItem{
		{Label: "New list…", Href: "/lists/new", TestID: "new-list"},
		sharedAudienceMenuItem(Me(c)),
		{Label: "Import a list…", Href: "/recipients/import?newList=1", TestID: "import-list"},
	}
	return render(c, http.StatusOK, lists.List(f, vm))
}

func (h *Handlers) listForm(c echo.Context, status int, vm lists.FormVM) error {
	vm.CSRF = h.Sessions.CSRFToken(c)
	f := h.Frame(c, "New list", "lists", crumbs(listsCrumbs, layouts.Crumb{Label: "New list"})...)
	return render(c, status, lists.New(f, vm))
}

// NewList shows the New list form with the next internal name.
func (h *Handlers) NewList(c echo.Context) error {
	name, err := h.Store.NextListInternalName(c.Request().Context())
	if err != nil {
		return err
	}
	return h.listForm(c, http.StatusOK, lists.FormVM{Input: models.ListInput{InternalName: name}})
}

// CreateList stores a regular list.
func (h *Handlers) CreateList(c echo.Context) error {
	in := models.ListInput{Label: c.FormValue("label"), InternalName: c.FormValue("internalName"), Description: c.FormValue("description")}
	l, err := h.Store.CreateList(c.Request().Context(), models.ActorOf(Me(c)), in)
	if problems, ok := formProblems(err); ok {
		return h.listForm(c, statusOfProblem(err), lists.FormVM{Input: in, Errors: problems})
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", fmt.Sprintf("List %s (%s) created.", l.Label, l.InternalName))
	return redirect(c, lists.Href(l))
}

func (h *Handlers) listCard(c echo.Context, status int, vm lists.CardVM) error {
	ctx := c.Request().Context()
	members, err := h.Store.BrowseListMembers(ctx, vm.List, c.QueryParam("search"), keysetOf(c))
	if err != nil {
		return err
	}
	vm.Members, vm.CSRF = members, h.Sessions.CSRFToken(c)
	if vm.List.Type == models.SharedAudienceList && vm.Sync == nil {
		if vm.Sync, err = h.syncVM(c, vm.List); err != nil {
			return err
		}
	}
	vm.URL = components.ListURL{Path: lists.Href(vm.List), Query: queryOf(c, "search", "pageSize")}
	if wantsFragment(c, lists.MembersID) {
		return render(c, status, lists.Members(vm))
	}
	f := h.Frame(c, vm.List.Label, "lists", crumbs(listsCrumbs, layouts.Crumb{Label: vm.List.Label})...)
	f.Subtitle = vm.List.InternalName + " · " + vm.List.Type.Label()
	return render(c, status, lists.Card(f, vm))
}

func (h *Handlers) loadList(c echo.Context) (*models.List, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return nil, err
	}
	return h.Store.ListByID(c.Request().Context(), id)
}

// ShowList shows a list and its members.
func (h *Handlers) ShowList(c echo.Context) error {
	l, err := h.loadList(c)
	if err != nil {
		return err
	}
	return h.listCard(c, http.StatusOK, lists.CardVM{List: l})
}

// AddListMembers adds the recipients whose addresses were pasted.
func (h *Handlers) AddListMembers(c echo.Context) error {
	l, err := h.loadList(c)
	if err != nil {
		return err
	}
	text := c.FormValue("emails")
	emails := strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' || r == ';' || r == ' ' || r == '\t' })
	problem := ""
	switch {
	case len(emails) == 0:
		problem = "enter at least one e-mail address"
	case len(emails) > MaxEmailsPerAdd:
		problem = fmt.Sprintf("paste at most %d addresses at once; import a CSV file for more", MaxEmailsPerAdd)
	}
	if problem != "" {
		return h.listCard(c, http.StatusUnprocessableEntity, lists.CardVM{List: l, AddEmails: text, AddProblem: problem})
	}
	ctx := c.Request().Context()
	found, missing, err := h.Store.RecipientsByEmail(ctx, emails)
	if err != nil {
		return err
	}
	ids := make([]int64, len(found))
	for i, r := range found {
		ids[i] = r.ID
	}
	added := int64(0)
	if len(ids) > 0 {
		if added, err = h.Store.AddListMembers(ctx, models.ActorOf(Me(c)), l.ID, ids); err != nil {
			return err
		}
	}
	msg := fmt.Sprintf("%d recipients added to %s", added, l.Label)
	if already := int64(len(ids)) - added; already > 0 {
		msg += fmt.Sprintf("; %d were already in it", already)
	}
	if len(missing) > 0 {
		shown := missing
		if len(shown) > 5 {
			shown = shown[:5]
		}
		msg += fmt.Sprintf("; %d addresses match no recipient (%s", len(missing), strings.Join(shown, ", "))
		if len(missing) > 5 {
			msg += ", …"
		}
		msg += ")"
		h.flash(c, "warning", msg+".")
	} else {
		h.flash(c, "success", msg+".")
	}
	return redirect(c, lists.Href(l))
}

// RemoveListMembers removes the selected recipients.
func (h *Handlers) RemoveListMembers(c echo.Context) error {
	l, err := h.loadList(c)
	if err != nil {
		return err
	}
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "the form could not be read")
	}
	var ids []int64
	for _, s := range form["recipient"] {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return models.Invalid("recipient", "%q is not a recipient id", s)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		h.flash(c, "info", "Select the recipients to remove first.")
		return redirect(c, lists.Href(l))
	}
	n, err := h.Store.RemoveListMembers(c.Request().Context(), models.ActorOf(Me(c)), l.ID, ids)
	if err != nil {
		return err
	}
	h.flash(c, "success", fmt.Sprintf("%d recipients removed from %s.", n, l.Label))
	return redirect(c, lists.Href(l))
}

// DeleteList deletes a list, keeping its recipients.
func (h *Handlers) DeleteList(c echo.Context) error {
	l, err := h.loadList(c)
	if err != nil {
		return err
	}
	if err := h.Store.DeleteList(c.Request().Context(), models.ActorOf(Me(c)), l.ID); err != nil {
		return err
	}
	h.flash(c, "success", fmt.Sprintf("List %s (%s) deleted; its recipients are kept.", l.Label, l.InternalName))
	return redirect(c, "/lists")
}
