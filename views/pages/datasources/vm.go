// Package datasources draws Administration › Platform › AMC Data sources:
// the list, the creation form and a data source's record page.
package datasources

import (
	"net/url"
	"slices"
	"strconv"
	"time"

	"audiencebridge/identity"
	"audiencebridge/models"
	"audiencebridge/views/components"
)

// Base is the list's address.
const Base = "/admin/datasources"

// ResultsID is the element that searching, sorting and paging refresh.
const ResultsID = "datasource-results"

// KeyFieldID is the reconciliation key field, refreshed when the ID type
// changes so that it offers only the keys that fit.
const KeyFieldID = "reconciliation-key-field"

// ListVM is the data sources list.
type ListVM struct {
	URL  components.ListURL
	Page models.Page[*models.DataSource]
}

// Pager is the list's pager.
func (vm ListVM) Pager() components.Pager {
	return components.PagerFor(vm.Page, vm.URL, "#"+ResultsID)
}

// Href is a data source's record page.
func Href(d *models.DataSource) string { return Base + "/" + url.PathEscape(d.InternalName) }

// AAMID shows an optional AAM identifier, "—" when unset.
func AAMID(id *int64) string {
	if id == nil {
		return "—"
	}
	return strconv.FormatInt(*id, 10)
}

// When formats a time for the record page.
func When(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// FormVM is the creation form or a data source's record page: what was
// typed, what is wrong, and for an existing one what uses it.
type FormVM struct {
	// DataSource is nil on the creation form.
	DataSource *models.DataSource
	Input      models.DataSourceInput
	Errors     models.ValidationErrors
	CSRF       string
	Usage      []string
	Audit      []*models.AuditEvent
	// DeleteError says why a delete was refused.
	DeleteError string
}

// fields are the form's inputs; a problem with any other field is shown at
// the top of the form.
var fields = []string{"label", "internalName", "targetingDimension", "idType", "reconciliationKey", "integrationCode",
	"aamDataSourceId", "aamDestinationId", "hashAlgorithm", "comment"}

// Other lists the problems that belong to no field of the form.
func (vm FormVM) Other() []string {
	var out []string
	for _, e := range vm.Errors {
		if !slices.Contains(fields, e.Field) {
			out = append(out, e.Message)
		}
	}
	return out
}

// IsNew reports whether this is the creation form.
func (vm FormVM) IsNew() bool { return vm.DataSource == nil }

// Action is where the form posts.
func (vm FormVM) Action() string {
	if vm.IsNew() {
		return Base
	}
	return Href(vm.DataSource)
}

// FormHref is the page that refreshes the key field.
func (vm FormVM) FormHref() string {
	if vm.IsNew() {
		return Base + "/new"
	}
	return Href(vm.DataSource)
}

// Locked reports whether label, ID type and reconciliation key are fixed,
// as they are on the built-in data source.
func (vm FormVM) Locked() bool { return vm.DataSource != nil && vm.DataSource.BuiltIn }

// CanDelete reports whether the Delete button is offered.
func (vm FormVM) CanDelete() bool { return !vm.IsNew() && !vm.DataSource.BuiltIn && len(vm.Usage) == 0 }

// DeleteBlocked says why the data source cannot be deleted.
func (vm FormVM) DeleteBlocked() string {
	switch {
	case vm.IsNew():
		return ""
	case vm.DataSource.BuiltIn:
		return "The built-in data source always exists and cannot be deleted."
	case len(vm.Usage) > 0:
		return "In use: change or delete what uses it before deleting it."
	}
	return ""
}

// ConfirmDelete is the question asked before deleting.
func (vm FormVM) ConfirmDelete() string {
	return "Delete the data source " + vm.DataSource.Label + " (" + vm.DataSource.InternalName + ")? This cannot be undone."
}

// AuditHref links to the data source's full history.
func (vm FormVM) AuditHref() string {
	return "/admin/audit?target=datasource&id=" + strconv.FormatInt(vm.DataSource.ID, 10)
}

// KeyChoices are the reconciliation keys that fit the chosen ID type, or
// every key when no valid ID type is chosen.
func (vm FormVM) KeyChoices() []components.Option {
	keys := identity.AllowedKeys(identity.IDType(vm.Input.IDType))
	if len(keys) == 0 {
		keys = models.ReconciliationKeys
	}
	out := make([]components.Option, len(keys))
	for i, k := range keys {
		out[i] = components.Option{Value: string(k), Label: models.KeyLabel(k)}
	}
	return out
}

// FitKey picks the first key that fits the ID type when the typed key does
// not, for the refreshed key field.
func (vm *FormVM) FitKey() {
	keys := identity.AllowedKeys(identity.IDType(vm.Input.IDType))
	if len(keys) > 0 && !slices.Contains(keys, identity.Key(vm.Input.ReconciliationKey)) {
		vm.Input.ReconciliationKey = string(keys[0])
	}
}

// IDTypeChoices are the ID types of the form.
func IDTypeChoices() []components.Option {
	out := make([]components.Option, len(models.IDTypes))
	for i, t := range models.IDTypes {
		out[i] = components.Option{Value: string(t), Label: models.IDTypeLabel(t)}
	}
	return out
}

// HashChoices are the hash algorithms of the form.
func HashChoices() []components.Option {
	out := make([]components.Option, len(models.HashAlgorithms))
	for i, h := range models.HashAlgorithms {
		out[i] = components.Option{Value: string(h), Label: models.HashLabel(h)}
	}
	return out
}

// DimensionChoices are the targeting dimensions of the form.
func DimensionChoices() []components.Option {
	return []components.Option{{Value: models.TargetRecipient, Label: models.TargetingDimensionLabel(models.TargetRecipient)}}
}

// Field builds a form field with the typed value and its problem.
func (vm FormVM) Field(name, label, value string) components.Field {
	return components.Field{Name: name, Label: label, Value: value, Error: vm.Errors.For(name), Autocomplete: "off"}
}

// Limits of the form's text fields.
const (
	LabelMax           = models.MaxDataSourceLabelLength
	InternalNameMax    = models.MaxInternalNameLength
	IntegrationCodeMax = models.MaxIntegrationCodeLength
	CommentMax         = models.MaxDataSourceCommentLength
)
