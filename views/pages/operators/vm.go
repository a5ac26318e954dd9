// Package operators draws Administration › Operators: the list with its
// entitlement toggles, the operator card and the creation form.
package operators

import (
	"strconv"
	"time"

	"audiencebridge/models"
	"audiencebridge/views/components"
)

// ListVM is the operators list.
type ListVM struct {
	URL  components.ListURL
	Page models.Page[*models.Operator]
	Me   *models.Operator
	CSRF string
}

// ResultsID is the element that searching, sorting and paging refresh.
const ResultsID = "operator-results"

// Pager is the list's pager.
func (vm ListVM) Pager() components.Pager {
	return components.PagerFor(vm.Page, vm.URL, "#"+ResultsID)
}

// Row is what one row of the list needs.
func (vm ListVM) Row(op *models.Operator) RowVM { return RowVM{Op: op, Me: vm.Me, CSRF: vm.CSRF} }

// RowVM is one operator row.
type RowVM struct {
	Op   *models.Operator
	Me   *models.Operator
	CSRF string
}

// RowID is the element id of an operator's row.
func RowID(op *models.Operator) string { return "operator-row-" + strconv.FormatInt(op.ID, 10) }

// IsMe reports whether the row is the signed-in operator's own.
func (r RowVM) IsMe() bool { return r.Me != nil && r.Me.ID == r.Op.ID }

// Href is the operator's card.
func Href(op *models.Operator) string { return "/admin/operators/" + strconv.FormatInt(op.ID, 10) }

// ToggleHref is where an entitlement toggle posts.
func ToggleHref(op *models.Operator, e models.Entitlement) string {
	return Href(op) + "/entitlements/" + string(e)
}

// Next is the state a toggle asks for when clicked.
func Next(op *models.Operator, e models.Entitlement) string {
	if op.Has(e) {
		return "false"
	}
	return "true"
}

// When formats a time for tables, "Never" when unset.
func When(t *time.Time) string {
	if t == nil {
		return "Never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// StatusOptions and RoleOptions fill the toolbar filters.
var (
	StatusOptions = []components.Option{{Value: "", Label: "Any status"}, {Value: "active", Label: "Enabled"}, {Value: "disabled", Label: "Disabled"}}
	RoleOptions   = []components.Option{{Value: "", Label: "Any role"}, {Value: "admin", Label: "Administrator"}, {Value: "marketer", Label: "Marketer"}}
)

// FormVM is the new-operator form with what was typed and what is wrong.
type FormVM struct {
	Input  models.OperatorInput
	Errors models.ValidationErrors
	Other  []string
	CSRF   string
}

// Wants reports whether the form asked for an entitlement.
func (vm FormVM) Wants(e models.Entitlement) bool {
	for _, s := range vm.Input.Entitlements {
		if s == string(e) {
			return true
		}
	}
	return false
}

// RoleChoices are the roles of the forms.
func RoleChoices() []components.Option {
	var out []components.Option
	for _, r := range models.Roles {
		out = append(out, components.Option{Value: string(r), Label: r.Label()})
	}
	return out
}

// CardVM is an operator's card.
type CardVM struct {
	Op         *models.Operator
	Me         *models.Operator
	CSRF       string
	Sessions   int64
	Audit      []*models.AuditEvent
	EditErrors models.ValidationErrors
	Edit       models.OperatorUpdate
	PassError  string
}

// Row is the card's own row view model, for the shared toggle.
func (vm CardVM) Row() RowVM { return RowVM{Op: vm.Op, Me: vm.Me, CSRF: vm.CSRF} }

// AuditHref links to the operator's full history.
func (vm CardVM) AuditHref() string {
	return "/admin/audit?target=operator&id=" + strconv.FormatInt(vm.Op.ID, 10)
}
