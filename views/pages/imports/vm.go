// Package imports draws the recipient import: upload, column mapping with
// a preview, the progress bar and the result with its rejected rows.
package imports

import (
	"fmt"
	"strconv"
	"time"

	"audiencebridge/importer"
	"audiencebridge/models"
	"audiencebridge/views/components"
)

// ProgressID is the element polled while an import runs.
const ProgressID = "import-progress"

// UploadVM is the upload form.
type UploadVM struct {
	CSRF     string
	MaxBytes int64
	ListID   string
	NewList  bool
	Error    string
}

// Action carries the CSRF token in the URL: a multipart body is streamed to
// the database and never parsed as a form.
func (vm UploadVM) Action() string { return "/recipients/import?_csrf=" + vm.CSRF }

// Limit is the upload limit for people.
func (vm UploadVM) Limit() string { return Bytes(vm.MaxBytes) }

// Bytes formats a size.
func Bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// MappingVM is the mapping step.
type MappingVM struct {
	Upload         *models.Upload
	Preview        importer.Preview
	Mapping        importer.Mapping
	Delimiter      string
	UpdateExisting bool
	ListMode       string // none, new or existing
	ListID         string
	NewListLabel   string
	Lists          []*models.List
	Errors         models.ValidationErrors
	CSRF           string
}

// Action is where the mapping form posts.
func (vm MappingVM) Action() string {
	return "/recipients/import/uploads/" + strconv.FormatInt(vm.Upload.ID, 10)
}

// ColumnOptions are the choices for each file column.
func ColumnOptions() []components.Option {
	opts := []components.Option{{Value: "", Label: "Do not import"}}
	for _, c := range importer.Columns {
		opts = append(opts, components.Option{Value: string(c), Label: c.Label()})
	}
	return opts
}

// MappedAt is the field chosen for column i.
func (vm MappingVM) MappedAt(i int) string {
	if i < len(vm.Mapping) {
		return string(vm.Mapping[i])
	}
	return ""
}

// DelimiterOptions are the separators the reader understands.
var DelimiterOptions = []components.Option{{Value: ",", Label: "Comma (,)"}, {Value: ";", Label: "Semicolon (;)"}, {Value: "\t", Label: "Tab"}, {Value: "|", Label: "Pipe (|)"}}

// ListOptions are the regular lists to import into.
func (vm MappingVM) ListOptions() []components.Option {
	opts := []components.Option{{Value: "", Label: "Choose a list…"}}
	for _, l := range vm.Lists {
		opts = append(opts, components.Option{Value: strconv.FormatInt(l.ID, 10), Label: l.Label + " (" + l.InternalName + ")"})
	}
	return opts
}

// Index formats a column index for field names.
func Index(i int) string { return strconv.Itoa(i) }

// ImportVM is an import's page.
type ImportVM struct {
	Import    *models.RecipientImport
	Settings  models.ImportSettings
	List      *models.List
	Rejected  []*models.ImportRejection
	CreatedBy string
}

// Href is an import's page.
func Href(imp *models.RecipientImport) string {
	return "/recipients/imports/" + strconv.FormatInt(imp.ID, 10)
}

// Count formats a count.
func Count(n int64) string { return strconv.FormatInt(n, 10) }

// Percent is the progress as text.
func (vm ImportVM) Percent() string { return strconv.Itoa(vm.Import.Percent()) }

// StatusLabel says where the import stands.
func StatusLabel(s models.ImportStatus) string {
	switch s {
	case models.ImportQueued:
		return "Waiting to start"
	case models.ImportRunning:
		return "Importing"
	case models.ImportSucceeded:
		return "Finished"
	case models.ImportFailed:
		return "Failed"
	}
	return string(s)
}

// StatusClass is the badge style of a status.
func StatusClass(s models.ImportStatus) string {
	switch s {
	case models.ImportSucceeded:
		return "badge badge-success"
	case models.ImportFailed:
		return "badge badge-danger"
	}
	return "badge badge-warning"
}

// When formats a time.
func When(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// Duration is how long the import took or has taken.
func (vm ImportVM) Duration() string {
	if vm.Import.StartedAt == nil {
		return "—"
	}
	end := time.Now()
	if vm.Import.FinishedAt != nil {
		end = *vm.Import.FinishedAt
	}
	return end.Sub(*vm.Import.StartedAt).Round(100 * time.Millisecond).String()
}

// SkippedLabel names the skipped count by what the import was told to do.
func (vm ImportVM) SkippedLabel() string {
	if vm.Settings.UpdateExisting {
		return "Unchanged"
	}
	return "Already existed (not updated)"
}

// HistoryVM is the list of imports.
type HistoryVM struct {
	URL  components.ListURL
	Page models.Page[*models.RecipientImport]
}

// Pager is the history's pager.
func (vm HistoryVM) Pager() components.Pager {
	return components.PagerFor(vm.Page, vm.URL, "#import-history")
}
