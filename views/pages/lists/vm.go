// Package lists draws Profiles and Targets › Lists: the Lists table, the New
// list form and a list's page with its members.
package lists

import (
	"strconv"
	"time"

	"audiencebridge/models"
	"audiencebridge/views/components"
	"audiencebridge/views/pages/recipients"
)

// ResultsID and MembersID are the elements HTMX refreshes.
const (
	ResultsID = "list-results"
	MembersID = "member-results"
)

// ListVM is the Lists table.
type ListVM struct {
	URL  components.ListURL
	Page models.Page[*models.List]
	// Runs are the last runs of the page's shared-audience lists.
	Runs map[int64]*models.Run
}

// LastRun is a list's last run, or nil.
func (vm ListVM) LastRun(l *models.List) *models.Run {
	if l.LastRunID == nil {
		return nil
	}
	return vm.Runs[*l.LastRunID]
}

// Pager is the table's pager.
func (vm ListVM) Pager() components.Pager { return components.PagerFor(vm.Page, vm.URL, "#"+ResultsID) }

// TypeOptions fill the type filter.
var TypeOptions = []components.Option{{Value: "", Label: "Any type"}, {Value: "regular", Label: "List"}, {Value: "sharedAudience", Label: "Shared audience"}}

// Href is a list's page.
func Href(l *models.List) string { return "/lists/" + strconv.FormatInt(l.ID, 10) }

// RecipientHref is a recipient's page.
func RecipientHref(r *models.Recipient) string { return "/recipients/" + strconv.FormatInt(r.ID, 10) }

// When formats a time for tables.
func When(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") }

// Count formats a size.
func Count(n int64) string { return strconv.FormatInt(n, 10) }

// FormVM is the New list form.
type FormVM struct {
	Input  models.ListInput
	Errors models.ValidationErrors
	CSRF   string
}

// CardVM is a list's page.
type CardVM struct {
	List       *models.List
	URL        components.ListURL
	Members    models.KeysetPage[*models.Recipient]
	CSRF       string
	AddEmails  string
	AddProblem string
	// Sync is set for a shared-audience list.
	Sync *SyncVM
}

// Regular reports whether members can be changed by hand.
func (vm CardVM) Regular() bool { return vm.List.Type == models.RegularList }

// Pager is the members' pager.
func (vm CardVM) Pager() recipients.KeysetPager {
	return recipients.PagerOf(vm.Members, vm.URL, "#"+MembersID)
}

// ID is the list id as text.
func (vm CardVM) ID() string { return strconv.FormatInt(vm.List.ID, 10) }

// RecipientID is a recipient id as text, for checkboxes.
func RecipientID(r *models.Recipient) string { return strconv.FormatInt(r.ID, 10) }
