// Package recipients draws Profiles and Targets › Recipients: the searchable
// table, a recipient's page and the create and edit forms.
package recipients

import (
	"strconv"
	"strings"
	"time"

	"audiencebridge/models"
	"audiencebridge/views/components"
)

// ResultsID is the element searching, sorting and paging refresh.
const ResultsID = "recipient-results"

// ListVM is the recipients table.
type ListVM struct {
	URL      components.ListURL
	Page     models.KeysetPage[*models.Recipient]
	Visitors map[int64]int
}

// Pager is the table's pager.
func (vm ListVM) Pager() KeysetPager { return PagerOf(vm.Page, vm.URL, "#"+ResultsID) }

// Href is a recipient's page.
func Href(r *models.Recipient) string { return "/recipients/" + strconv.FormatInt(r.ID, 10) }

// When formats a time for tables.
func When(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") }

// FormVM is the create or edit form.
type FormVM struct {
	ID     int64 // 0 for a new recipient
	Input  models.RecipientInput
	Errors models.ValidationErrors
	CSRF   string
}

// Action is where the form posts.
func (vm FormVM) Action() string {
	if vm.ID == 0 {
		return "/recipients"
	}
	return "/recipients/" + strconv.FormatInt(vm.ID, 10)
}

// VisitorIDsText is the textarea's content, one ID a line.
func (vm FormVM) VisitorIDsText() string { return strings.Join(vm.Input.VisitorIDs, "\n") }

// InputOf fills a form from a stored recipient.
func InputOf(r *models.Recipient) models.RecipientInput {
	in := models.RecipientInput{Email: r.Email, FirstName: r.FirstName, LastName: r.LastName, CRMID: r.CRM()}
	for _, v := range r.VisitorIDs {
		in.VisitorIDs = append(in.VisitorIDs, v.VisitorID)
	}
	return in
}

// CardVM is a recipient's page.
type CardVM struct {
	Recipient *models.Recipient
	Lists     []*models.List
	Regular   []*models.List
	CSRF      string
}

// ListHref is a list's page.
func ListHref(l *models.List) string { return "/lists/" + strconv.FormatInt(l.ID, 10) }

// ListOptions are the regular lists the recipient can be added to.
func (vm CardVM) ListOptions() []components.Option {
	opts := []components.Option{{Value: "", Label: "Choose a list…"}}
	for _, l := range vm.Regular {
		opts = append(opts, components.Option{Value: strconv.FormatInt(l.ID, 10), Label: l.Label + " (" + l.InternalName + ")"})
	}
	return opts
}
