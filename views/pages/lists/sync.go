package lists

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"audiencebridge/audiencesync"
	"audiencebridge/models"
	"audiencebridge/views/components"
)

// Elements of a shared-audience list that HTMX refreshes.
const (
	SyncStatusID = "sync-status"
	RunHistoryID = "run-history"
	PreviewID    = "audience-preview"
)

// Paths of the shared-audience window.
const (
	SharedAudienceNewPath     = "/lists/new/shared-audience"
	SharedAudienceCreatePath  = "/lists/shared-audience"
	SharedAudiencePreviewPath = "/lists/shared-audience/preview"
)

// SyncEveryOptions are the schedules a list can have, in minutes.
var SyncEveryOptions = []components.Option{
	{Value: "15", Label: "Every 15 minutes"}, {Value: "30", Label: "Every 30 minutes"}, {Value: "60", Label: "Every hour"},
	{Value: "360", Label: "Every 6 hours"}, {Value: "1440", Label: "Every day"}, {Value: "0", Label: "Only on demand and when the audience changes"},
}

// ScheduleLabel describes a schedule in words.
func ScheduleLabel(every int) string {
	for _, o := range SyncEveryOptions {
		if o.Value == strconv.Itoa(every) {
			return o.Label
		}
	}
	return fmt.Sprintf("Every %d minutes", every)
}

// SharedAudienceFormVM is the "Create a shared audience…" window.
type SharedAudienceFormVM struct {
	Input       models.SharedAudienceInput
	DataSources []*models.DataSource
	Errors      models.ValidationErrors
	CSRF        string
}

// SegmentSID is the chosen audience's id as the field shows it.
func (vm SharedAudienceFormVM) SegmentSID() string {
	if vm.Input.SegmentID <= 0 {
		return ""
	}
	return strconv.FormatInt(vm.Input.SegmentID, 10)
}

// Every is the chosen schedule as the select shows it.
func (vm SharedAudienceFormVM) Every() string {
	if vm.Input.SyncEveryMinutes == nil {
		return strconv.Itoa(models.DefaultSyncEveryMinutes)
	}
	return strconv.Itoa(*vm.Input.SyncEveryMinutes)
}

// DataSourceAAM is a data source's AAM Data source ID as text ("" when none),
// which the window matches with the chosen audience's.
func DataSourceAAM(d *models.DataSource) string {
	if d.AAMDataSourceID == nil {
		return ""
	}
	return strconv.FormatInt(*d.AAMDataSourceID, 10)
}

// DataSourceOption is a data source as the select lists it.
func DataSourceOption(d *models.DataSource) string {
	s := d.Label + " — " + d.IDTypeLabel() + " by " + d.KeyLabel()
	if d.HashAlgorithm == "sha256" {
		s += ", SHA-256"
	}
	if aam := DataSourceAAM(d); aam != "" {
		s += " (AAM " + aam + ")"
	}
	return s
}

// PreviewVM is the match-rate preview of the window.
type PreviewVM struct {
	Preview audiencesync.Preview
	// Problem is why there is no preview (nothing chosen yet, an unknown
	// audience, an unreachable library).
	Problem string
}

// Percent is a share as a percentage with one decimal.
func Percent(rate float64) string {
	return strconv.FormatFloat(rate*100, 'f', 1, 64) + "%"
}

// PercentInt is a share as a whole percentage for a progress element.
func PercentInt(rate float64) string { return strconv.Itoa(int(rate*100 + 0.5)) }

// Scope says how many members the preview read.
func (vm PreviewVM) Scope() string {
	p := vm.Preview
	if p.Exact {
		return fmt.Sprintf("all %s members of %q", Count(p.Counts.Received), p.Segment.Name)
	}
	return fmt.Sprintf("the first %s of the %s members of %q (an estimate)", Count(p.Counts.Received), Count(p.Segment.Size), p.Segment.Name)
}

// Empty reports whether the list would have no member.
func (vm PreviewVM) Empty() bool { return vm.Problem == "" && vm.Preview.Counts.Recipients == 0 }

// NoRecipient counts well-formed members no recipient has.
func (vm PreviewVM) NoRecipient() int64 {
	c := vm.Preview.Counts
	return c.NotRecognized - c.Malformed - c.HashMismatch
}

// SyncVM is the sync part of a shared-audience list's page.
type SyncVM struct {
	List       *models.List
	DataSource *models.DataSource
	LastRun    *models.Run
	Runs       models.Page[*models.Run]
	Trend      []*models.Run
	// CanSync: the operator holds Audience library and Audience Manager
	// administrator; CanReadLibrary: Audience library.
	CanSync        bool
	CanReadLibrary bool
	CSRF           string
	Now            time.Time
}

// Running reports whether the last run is queued or running.
func (vm SyncVM) Running() bool { return vm.LastRun != nil && !vm.LastRun.Finished() }

// StatusURL is what the status panel polls; watch names the run it waits
// for, so the answer can say when it ended.
func (vm SyncVM) StatusURL() string {
	u := Href(vm.List) + "/sync-status"
	if vm.LastRun != nil {
		u += "?watch=" + strconv.FormatInt(vm.LastRun.ID, 10)
	}
	return u
}

// RunsURL is the run history's address.
func (vm SyncVM) RunsURL() components.ListURL {
	return components.ListURL{Path: Href(vm.List) + "/runs"}
}

// RunsPager pages the run history.
func (vm SyncVM) RunsPager() components.Pager {
	return components.PagerFor(vm.Runs, vm.RunsURL(), "#"+RunHistoryID)
}

// SegmentHref is the audience's page in the library.
func (vm SyncVM) SegmentHref() string {
	if vm.List.SegmentID == nil {
		return ""
	}
	return "/library/segments/" + strconv.FormatInt(*vm.List.SegmentID, 10)
}

// SegmentSID is the audience's id as text.
func (vm SyncVM) SegmentSID() string {
	if vm.List.SegmentID == nil {
		return "—"
	}
	return strconv.FormatInt(*vm.List.SegmentID, 10)
}

// NextSync says when the schedule syncs next.
func (vm SyncVM) NextSync() string {
	if vm.List.SyncEveryMinutes == 0 || vm.List.NextSyncAt == nil {
		return "Not scheduled"
	}
	return When(*vm.List.NextSyncAt) + " UTC"
}

// Every is the schedule as the select shows it.
func (vm SyncVM) Every() string { return strconv.Itoa(vm.List.SyncEveryMinutes) }

// RunHref is a run's page (its unrecognised identifiers).
func RunHref(l *models.List, r *models.Run) string {
	return Href(l) + "/runs/" + strconv.FormatInt(r.ID, 10)
}

// RunID is a run's number.
func RunID(r *models.Run) string { return "#" + strconv.FormatInt(r.ID, 10) }

// RunStatusLabel is a run's status in words.
func RunStatusLabel(r *models.Run) string {
	switch r.Status {
	case models.RunQueued:
		return "Queued"
	case models.RunRunning:
		if r.Error != "" {
			return "Retrying"
		}
		return "Running"
	case models.RunSucceeded:
		return "Succeeded"
	case models.RunFailed:
		return "Failed"
	case models.RunCancelled:
		return "Cancelled"
	}
	return string(r.Status)
}

// RunStatusClass colours a run's status.
func RunStatusClass(r *models.Run) string {
	switch r.Status {
	case models.RunSucceeded:
		return "badge badge-success"
	case models.RunFailed:
		return "badge badge-danger"
	case models.RunRunning, models.RunQueued:
		return "badge badge-warning"
	}
	return "badge badge-muted"
}

// RunDuration is how long a run took, or has run.
func RunDuration(r *models.Run, now time.Time) string {
	d := r.Duration(now)
	if r.StartedAt == nil {
		return "—"
	}
	if d < time.Second {
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	}
	return d.Round(100 * time.Millisecond).String()
}

// RunProgress describes a running run's progress.
func RunProgress(r *models.Run) string {
	switch r.Status {
	case models.RunQueued:
		return "Waiting for a worker…"
	case models.RunRunning:
		s := r.Phase
		if r.ProgressTotal > 0 {
			s += fmt.Sprintf(" · %s of %s members read", Count(r.ProgressDone), Count(r.ProgressTotal))
		}
		return s
	}
	return ""
}

// RunPercent is a run's progress for the progress element.
func RunPercent(r *models.Run) string { return strconv.Itoa(r.Percent()) }

// TrendChart is the match rate of the last runs as an SVG polyline.
type TrendChart struct {
	Points  string
	Dots    []ChartDot
	Summary string
}

// ChartDot is one run on the trend.
type ChartDot struct{ X, Y, Title string }

// Trend geometry.
const (
	trendW, trendH = 240.0, 48.0
	trendPad       = 4.0
)

// TrendChart draws the match rates of vm.Trend (oldest first).
func (vm SyncVM) TrendChart() TrendChart {
	var c TrendChart
	n := len(vm.Trend)
	if n == 0 {
		return c
	}
	var pts []string
	for i, r := range vm.Trend {
		x := trendW / 2
		if n > 1 {
			x = trendPad + float64(i)*(trendW-2*trendPad)/float64(n-1)
		}
		y := trendH - trendPad - r.MatchRate()*(trendH-2*trendPad)
		xs, ys := strconv.FormatFloat(x, 'f', 1, 64), strconv.FormatFloat(y, 'f', 1, 64)
		pts = append(pts, xs+","+ys)
		c.Dots = append(c.Dots, ChartDot{X: xs, Y: ys, Title: RunID(r) + ": " + Percent(r.MatchRate())})
	}
	if n == 1 {
		pts = append([]string{strconv.FormatFloat(trendPad, 'f', 1, 64) + "," + strings.Split(pts[0], ",")[1]}, pts...)
	}
	c.Points = strings.Join(pts, " ")
	first, last := vm.Trend[0], vm.Trend[n-1]
	c.Summary = fmt.Sprintf("Match rate of the last %d successful runs: %s at %s, %s at the latest.", n, Percent(first.MatchRate()), RunID(first), Percent(last.MatchRate()))
	return c
}

// RunVM is a run's page with its unrecognised identifiers.
type RunVM struct {
	List   *models.List
	Run    *models.Run
	Sample []models.Unrecognized
	Now    time.Time
}
