// Package library draws Audience library › Shared audiences: the segments
// table, the New segment form and a segment's page with its data source,
// size history, members sample and member changes.
package library

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/views/components"
)

// Base is the segments page.
const Base = "/library"

// NewHref is the New segment form.
const NewHref = Base + "/segments/new"

// Elements of the segments page that HTMX refreshes or reads.
const (
	ResultsID    = "library-results"
	MoreID       = "library-more"
	SearchFormID = "library-search"
)

// SampleSize is how many members a segment's page shows.
const SampleSize = 50

// Href is a segment's page.
func Href(sid int64) string { return Base + "/segments/" + strconv.FormatInt(sid, 10) }

// ListVM is the segments table.
type ListVM struct {
	// URL holds search, sort, desc and pageSize (never page).
	URL  components.ListURL
	Page library.SegmentPage
	// Shown counts the rows shown so far, earlier pages included.
	Shown int64
	// NextPage is the page that Load more asks for.
	NextPage int
	// Appending is set when the rows answer Load more.
	Appending bool
	// CanChange is set for Audience Manager administrators.
	CanChange bool
}

// Empty reports whether the library has no segment at all (not merely none
// matching a search).
func (vm ListVM) Empty() bool { return vm.Page.Total == 0 && vm.URL.Get("search") == "" }

// More is the Load more row.
func (vm ListVM) More() components.LoadMore {
	m := components.LoadMore{ID: MoreID, Shown: vm.Shown, Total: vm.Page.Total, Columns: 6}
	if vm.Shown < vm.Page.Total {
		m.Href = vm.URL.With("page", strconv.Itoa(vm.NextPage))
	}
	return m
}

// FocusAfterLoad reports whether row i takes the focus: the first row that
// Load more appended.
func (vm ListVM) FocusAfterLoad(i int) bool { return vm.Appending && i == 0 }

// Finder is the "Find a segment…" button: the picker in import mode, going
// to the chosen segment's page.
func (vm ListVM) Finder() components.PickerOpener {
	return components.PickerOpener{Label: "Find a segment…", Mode: components.PickerImport, Target: "find",
		Navigate: Base + "/segments/{sid}", TestID: "find-segment"}
}

// StatusOptions fill the status select.
var StatusOptions = []components.Option{{Value: library.Active, Label: "Active"}, {Value: library.Inactive, Label: "Inactive"}}

// SourceOptions fill the source select.
func SourceOptions() []components.Option {
	out := make([]components.Option, len(library.Sources))
	for i, s := range library.Sources {
		out[i] = components.Option{Value: s, Label: s}
	}
	return out
}

// IDTypeLabel names a data source's identifiers.
func IDTypeLabel(t library.IDType) string {
	switch t {
	case library.Cookie:
		return "Visitor ID (COOKIE)"
	case library.CrossDevice:
		return "Declared ID (CROSS_DEVICE)"
	}
	return string(t)
}

// DataSourceLabel names a data source in a select.
func DataSourceLabel(d library.DataSource) string {
	return fmt.Sprintf("%s (DPID %d, %s)", d.Name, d.ID, IDTypeLabel(d.IDType))
}

// FormVM is a segment's fields, for the New segment form and for editing.
type FormVM struct {
	Input library.SegmentInput
	// DataSourceID is the data source as typed, to show it back.
	DataSourceID string
	DataSources  []library.DataSource
	Errors       models.ValidationErrors
	CSRF         string
}

// DataSourceOptions fill the data source select.
func (vm FormVM) DataSourceOptions() []components.Option {
	out := []components.Option{{Value: "", Label: "Choose a data source…"}}
	for _, d := range vm.DataSources {
		out = append(out, components.Option{Value: strconv.FormatInt(d.ID, 10), Label: DataSourceLabel(d)})
	}
	return out
}

// Other are the problems no field shows.
func (vm FormVM) Other() []string {
	var out []string
	for _, e := range vm.Errors {
		switch e.Field {
		case "name", "description", "integrationCode", "dataSourceId", "status", "source":
		default:
			out = append(out, e.Error())
		}
	}
	return out
}

// FormOf fills the edit form from a segment.
func FormOf(s library.Segment) FormVM {
	return FormVM{Input: library.SegmentInput{Name: s.Name, Description: s.Description, IntegrationCode: s.IntegrationCode,
		DataSourceID: s.DataSourceID, Status: s.Status, Source: s.Source}, DataSourceID: strconv.FormatInt(s.DataSourceID, 10)}
}

// Member changes offered by the segment page.
const (
	ChangeAdd     = "add"
	ChangeRemove  = "remove"
	ChangeReplace = "replace"
)

// ChangeOptions are the member changes, safest first.
var ChangeOptions = []components.Option{
	{Value: ChangeAdd, Label: "Add to the members"},
	{Value: ChangeRemove, Label: "Remove from the members"},
	{Value: ChangeReplace, Label: "Replace all members"},
}

// MemberReport is the answer to a member change.
type MemberReport struct {
	Change string
	// From says where the identifiers came from: "the pasted text" or a
	// file name.
	From   string
	Result library.MemberResult
}

// Summary is the report's first sentence.
func (r MemberReport) Summary() string {
	verb := map[string]string{ChangeAdd: "Added", ChangeRemove: "Removed", ChangeReplace: "Replaced the members with"}[r.Change]
	return fmt.Sprintf("%s %s identifiers from %s.", verb, components.Count(int64(r.Result.Accepted)), r.From)
}

// Unlisted counts the rejected lines the report does not list.
func (r MemberReport) Unlisted() int { return r.Result.Rejected - len(r.Result.Errors) }

// SizePoint is one change of a segment's size.
type SizePoint struct {
	At   time.Time
	Size int64
}

// SegmentVM is a segment's page.
type SegmentVM struct {
	Segment library.Segment
	// DataSource is nil when the segment's data source cannot be found.
	DataSource *library.DataSource
	// History is nil when the library keeps none (a remote library).
	History  []SizePoint
	Sample   []string
	Edit     FormVM
	Report   *MemberReport
	CSRF     string
	CanEdit  bool
	PasteErr string
	FileErr  string
	// Change is the member change chosen in the forms.
	Change string
	// Pasted is the text of the paste form, kept when it is refused.
	Pasted   string
	MaxBytes int64
}

// SID is the segment id as text.
func (vm SegmentVM) SID() string { return strconv.FormatInt(vm.Segment.SID, 10) }

// Href is the segment's page.
func (vm SegmentVM) Href() string { return Href(vm.Segment.SID) }

// UploadAction carries the CSRF token in the URL: a multipart body is
// streamed, never parsed as a form.
func (vm SegmentVM) UploadAction() string { return vm.Href() + "/members/upload?_csrf=" + vm.CSRF }

// NextStatus is what the activate/deactivate button sets.
func (vm SegmentVM) NextStatus() string {
	if vm.Segment.Active() {
		return library.Inactive
	}
	return library.Active
}

// StatusAction labels the activate/deactivate button.
func (vm SegmentVM) StatusAction() string {
	if vm.Segment.Active() {
		return "Deactivate"
	}
	return "Activate"
}

// DeleteConfirm is the question asked before deleting.
func (vm SegmentVM) DeleteConfirm() string {
	return "Delete the segment " + vm.Segment.Name + " and its " + components.Count(vm.Segment.Size) +
		" members? Lists imported from it keep their recipients but can no longer synchronise."
}

// MemberLine says what one line of a member change holds.
func (vm SegmentVM) MemberLine() string {
	if vm.DataSource != nil && vm.DataSource.IDType == library.CrossDevice {
		return "one declared ID a line, without \":\""
	}
	return "one visitor ID (ECID, 38 digits) a line"
}

// ChosenChange is the member change to show selected.
func (vm SegmentVM) ChosenChange() string {
	if vm.Change == "" {
		return ChangeAdd
	}
	return vm.Change
}

// KeepsDataSource reports whether the data source can no longer change: the
// members are identifiers of that source.
func (vm SegmentVM) KeepsDataSource() bool { return vm.Segment.Size > 0 }

// HasHistory reports whether the library keeps a size history.
func (vm SegmentVM) HasHistory() bool { return vm.History != nil }

// Chart geometry, in the SVG's own units.
const (
	chartW, chartH        = 640.0, 180.0
	chartLeft, chartRight = 56.0, 12.0
	chartTop, chartBottom = 12.0, 28.0
)

func (vm SegmentVM) chartXY() [][2]float64 {
	n := len(vm.History)
	if n == 0 {
		return nil
	}
	maxSize := vm.chartMax()
	first, last := vm.History[0].At, vm.History[n-1].At
	span := last.Sub(first).Seconds()
	w, h := chartW-chartLeft-chartRight, chartH-chartTop-chartBottom
	out := make([][2]float64, n)
	for i, p := range vm.History {
		var x float64
		switch {
		case n == 1:
			x = chartLeft
		case span > 0:
			x = chartLeft + w*p.At.Sub(first).Seconds()/span
		default:
			x = chartLeft + w*float64(i)/float64(n-1)
		}
		y := chartTop + h - h*float64(p.Size)/float64(maxSize)
		out[i] = [2]float64{x, y}
	}
	return out
}

// chartMax is the top of the chart's scale, at least 1.
func (vm SegmentVM) chartMax() int64 {
	m := int64(1)
	for _, p := range vm.History {
		m = max(m, p.Size)
	}
	return m
}

// Chart is the size history drawn as an SVG: every coordinate is an SVG
// attribute value, so no style is inline.
type Chart struct {
	// Line is a step line (a size holds until the next change), Area the
	// polygon under it.
	Line, Area string
	Dots       []ChartDot
	// Positions of the axes and their labels.
	Top, Base, Left, Right, LabelX, DateY, TopLabelY, BaseLabelY string
	// Max, First and Last label the scale and the time axis.
	Max, First, Last string
	// Summary describes the chart for screen readers.
	Summary string
}

// ChartDot is one change of size with its tooltip.
type ChartDot struct{ X, Y, Title string }

func num(v float64) string { return fmt.Sprintf("%.1f", v) }

// Chart draws the size history; call it only when HasHistory.
func (vm SegmentVM) Chart() Chart {
	pts := vm.chartXY()
	c := Chart{Top: num(chartTop), Base: num(chartH - chartBottom), Left: num(chartLeft), Right: num(chartW - chartRight),
		LabelX: num(chartLeft - 8), DateY: num(chartH - 8), TopLabelY: num(chartTop + 4), BaseLabelY: num(chartH - chartBottom + 4),
		Max: components.Count(vm.chartMax())}
	if len(pts) == 0 {
		c.Summary = "No size recorded yet."
		return c
	}
	var b strings.Builder
	for i, p := range pts {
		if i > 0 {
			fmt.Fprintf(&b, " %s,%s ", num(p[0]), num(pts[i-1][1]))
		}
		fmt.Fprintf(&b, "%s,%s", num(p[0]), num(p[1]))
	}
	end := pts[len(pts)-1][0]
	if len(pts) == 1 {
		end = chartW - chartRight
		fmt.Fprintf(&b, " %s,%s", num(end), num(pts[0][1]))
	}
	c.Line = b.String()
	c.Area = fmt.Sprintf("%s,%s %s %s,%s", num(pts[0][0]), c.Base, c.Line, num(end), c.Base)
	for i, p := range pts {
		h := vm.History[i]
		c.Dots = append(c.Dots, ChartDot{X: num(p[0]), Y: num(p[1]), Title: components.SegmentDate(h.At) + ": " + components.Count(h.Size)})
	}
	first, last := vm.History[0], vm.History[len(vm.History)-1]
	c.First, c.Last = components.SegmentDate(first.At), components.SegmentDate(last.At)
	c.Summary = fmt.Sprintf("Size over the last %d changes: %s on %s, %s on %s, at most %s.", len(pts), components.Count(first.Size),
		c.First, components.Count(last.Size), c.Last, c.Max)
	return c
}

// HistoryRow is one line of the size history table.
type HistoryRow struct {
	At     string
	Size   string
	Change string
}

// HistoryRows are the latest changes, newest first.
func (vm SegmentVM) HistoryRows(limit int) []HistoryRow {
	var out []HistoryRow
	for i := len(vm.History) - 1; i >= 0 && len(out) < limit; i-- {
		p := vm.History[i]
		change := "—"
		if i > 0 {
			d := p.Size - vm.History[i-1].Size
			switch {
			case d > 0:
				change = "+" + components.Count(d)
			case d < 0:
				change = "−" + components.Count(-d)
			default:
				change = "0"
			}
		}
		out = append(out, HistoryRow{At: components.SegmentDate(p.At), Size: components.Count(p.Size), Change: change})
	}
	return out
}

// When formats a time on the segment's page.
func When(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// Or shows "—" for an empty value.
func Or(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// Bytes formats a size limit.
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
