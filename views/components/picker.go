package components

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"audiencebridge/library"
)

// The picker "Select a shared audience" opens in a modal dialog from any
// form. Its contract with the host page:
//
//   - a button with data-picker-url (PickerOpener.URL) and data-picker-target
//     (a field-name prefix) opens it; PickerButton draws one;
//   - on Confirm, the fields named <prefix>Sid, <prefix>Name,
//     <prefix>Description and <prefix>DataSourceId of the button's form (the
//     document when the button is in no form) are filled, those that exist;
//   - then the button receives the DOM event "audience:selected" (it
//     bubbles) with detail {sid, name, description, dataSourceId, size,
//     collecting};
//   - data-picker-navigate="/path/{sid}" makes the page go there instead.
//
// static/js/app.js does the dialog; the handlers answer PickerPath.

// PickerPath is where the picker and its fragments are served.
const PickerPath = "/library/picker"

// PickerCreatePath is where the picker's Create button posts (export mode).
const PickerCreatePath = "/library/picker/segments"

// Elements of the picker that HTMX refreshes.
const (
	PickerResultsID = "picker-results"
	PickerMoreID    = "picker-more"
	PickerSearchID  = "picker-search"
	PickerCreateID  = "picker-create"
)

// Picker modes: importing reads an audience, exporting writes one and may
// create it.
const (
	PickerImport = "import"
	PickerExport = "export"
)

// PickerOpener is the button that opens the picker.
type PickerOpener struct {
	Label string
	// Mode is PickerImport (the default) or PickerExport.
	Mode string
	// DataSourceID, when set, shows only that library data source's
	// segments and is the data source of a segment created in export mode.
	DataSourceID int64
	// Target is the prefix of the host form's fields that Confirm fills.
	Target string
	// Navigate, when set, is where the page goes after Confirm; "{sid}" is
	// replaced by the chosen segment's id.
	Navigate string
	TestID   string
	// Primary draws the button in the accent colour.
	Primary bool
}

// URL is the picker's address for this opener.
func (p PickerOpener) URL() string {
	q := url.Values{}
	q.Set("mode", PickerMode(p.Mode))
	if p.DataSourceID > 0 {
		q.Set("dataSource", strconv.FormatInt(p.DataSourceID, 10))
	}
	return PickerPath + "?" + q.Encode()
}

func (p PickerOpener) class() string {
	if p.Primary {
		return "btn btn-primary"
	}
	return "btn"
}

// PickerMode returns a valid mode: export, or import for anything else.
func PickerMode(m string) string {
	if m == PickerExport {
		return PickerExport
	}
	return PickerImport
}

// LoadMore is the last row of a table that grows by pages: how many rows are
// shown out of how many, and the button that appends the next ones.
type LoadMore struct {
	ID      string
	Href    string // "" when every row is shown
	Shown   int64
	Total   int64
	Columns int
	// Button draws a button instead of a link: inside a dialog a link's
	// address means nothing without JavaScript.
	Button bool
}

func (m LoadMore) columns() string { return strconv.Itoa(m.Columns) }

// Count formats a number with thousands separators, e.g. 12,345.
func Count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// SegmentSize is a segment's current size, or "Collecting data" while a
// segment created for an export waits for its first members.
func SegmentSize(s library.Segment) string {
	if s.Collecting {
		return "Collecting data"
	}
	return Count(s.Size)
}

// SegmentDate formats a segment's time for tables.
func SegmentDate(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

// SegmentAuthor is who made the segment, "—" when nobody is named.
func SegmentAuthor(s library.Segment) string {
	if s.Author == "" {
		return "—"
	}
	return s.Author
}

// SID formats a segment id.
func SID(s library.Segment) string { return strconv.FormatInt(s.SID, 10) }

// PickerVM is the picker: the audiences it lists, how they are searched and
// sorted, and in export mode the Create form.
type PickerVM struct {
	Mode string
	// DataSource is the library data source the picker is limited to.
	DataSource *library.DataSource
	// URL holds mode, dataSource, search, sort, desc and pageSize.
	URL  ListURL
	Page library.SegmentPage
	// Shown counts the rows shown so far, earlier pages included.
	Shown int64
	// NextPage is the page that Load more asks for.
	NextPage int
	// Appending is set when the rows are a Load more answer.
	Appending bool
	CSRF      string
	// Name, NameError and Notice are the Create form's state.
	Name      string
	NameError string
	Notice    string
	// Preselect is the segment to show selected, e.g. the one just created.
	Preselect int64
	// OOB draws the Create form and the search form out of band, to reset
	// them after a creation.
	OOB bool
}

// Export reports whether the picker offers to create a segment.
func (vm PickerVM) Export() bool { return vm.Mode == PickerExport }

// Intro says what the operator does in the picker.
func (vm PickerVM) Intro() string {
	if vm.Export() {
		return "Choose the audience that receives the exported recipients, or type a segment name and create a new one."
	}
	return "Choose the audience to import."
}

// DataSourceNote says which segments the picker is limited to, if any.
func (vm PickerVM) DataSourceNote() string {
	if vm.DataSource == nil {
		return ""
	}
	return "Only segments of the data source " + vm.DataSource.Name + " (DPID " + strconv.FormatInt(vm.DataSource.ID, 10) + ")."
}

// DataSourceValue is the dataSource parameter the picker's forms keep.
func (vm PickerVM) DataSourceValue() string { return vm.URL.Get("dataSource") }

// More is the Load more row.
func (vm PickerVM) More() LoadMore {
	m := LoadMore{ID: PickerMoreID, Shown: vm.Shown, Total: vm.Page.Total, Columns: 7, Button: true}
	if vm.Shown < vm.Page.Total {
		m.Href = vm.URL.With("page", strconv.Itoa(vm.NextPage))
	}
	return m
}

// Searching reports whether a search term narrows the list.
func (vm PickerVM) Searching() bool { return vm.URL.Get("search") != "" }

// Preselected reports whether a row is drawn selected.
func (vm PickerVM) Preselected(s library.Segment) bool {
	return vm.Preselect != 0 && s.SID == vm.Preselect
}

// FocusAfterLoad reports whether row i takes the focus: the first row that
// Load more appended, so that a keyboard user carries on from there.
func (vm PickerVM) FocusAfterLoad(i int) bool { return vm.Appending && i == 0 }

func (vm PickerVM) oob() templ.Attributes {
	if vm.OOB {
		return templ.Attributes{"hx-swap-oob": "true"}
	}
	return templ.Attributes{}
}

func (vm PickerVM) nameDescribedBy() string {
	if vm.NameError != "" {
		return "picker-segment-name-error picker-segment-name-hint"
	}
	return "picker-segment-name-hint"
}

// SortValue and DescValue are the current sort, kept by the search form.
func (vm PickerVM) SortValue() string { return vm.URL.Get("sort") }

// DescValue is "1" when the sort is descending.
func (vm PickerVM) DescValue() string { return vm.URL.Get("desc") }

// PickerSortHref is the picker's address sorted by key; like SortHref it
// flips the direction when the list is already sorted by key.
func (vm PickerVM) PickerSortHref(key string) string { return vm.URL.SortHref(key) }

// BoolString is "true" or "false", for data attributes.
func BoolString(b bool) string { return strconv.FormatBool(b) }
