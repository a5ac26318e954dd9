package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/views/components"
	"audiencebridge/views/layouts"
	librarypages "audiencebridge/views/pages/library"
)

var libraryCrumbs = []layouts.Crumb{{Label: "Audience library"}, {Label: "Shared audiences", Href: librarypages.Base}}

// segmentSorts are the sort keys of the library's Query.
var segmentSorts = map[string]bool{"name": true, "size": true, "source": true, "createTime": true, "updateTime": true}

// LibraryReaders and LibraryEditors are the entitlements of the audience
// library pages: browsing them (and creating an export's segment in the
// picker) needs the Audience library; changing segments needs an Audience
// Manager administrator too.
var (
	LibraryReaders = []models.Entitlement{models.AudienceLibrary}
	LibraryEditors = []models.Entitlement{models.AudienceLibrary, models.AAMAdmin}
)

// canChangeLibrary reports whether an operator holds LibraryEditors.
func canChangeLibrary(op *models.Operator) bool {
	for _, e := range LibraryEditors {
		if !op.Has(e) {
			return false
		}
	}
	return true
}

// segmentListQuery reads the search and sort of a segments table, newest
// first by default, and the parameters its links keep (never the page).
func segmentListQuery(c echo.Context, keep ...string) (url.Values, library.Query) {
	q := queryOf(c, append([]string{"search", "sort", "desc"}, keep...)...)
	if !segmentSorts[q.Get("sort")] {
		q.Set("sort", "updateTime")
		q.Set("desc", "1")
	}
	if q.Get("desc") != "1" {
		q.Del("desc")
	}
	if c.QueryParam("pageSize") != "" {
		q.Set("pageSize", strconv.Itoa(pageRequest(c).PageSize))
	}
	return q, library.Query{Search: q.Get("search"), SortBy: q.Get("sort"), Descending: q.Get("desc") == "1"}
}

// segmentRows are the rows of a table that grows by pages.
type segmentRows struct {
	page  library.SegmentPage
	shown int64
	next  int
}

// loadSegmentRows answers Load more with the one page asked for. Any other
// request gets every page up to the one asked for at once (as far as one
// query may go), so that a page reloaded after Load more shows its rows.
func (h *Handlers) loadSegmentRows(c echo.Context, lib library.Library, q library.Query, appending bool) (segmentRows, error) {
	req := pageRequest(c)
	if appending {
		q.Page, q.PageSize = req.Page, req.PageSize
		page, err := lib.Segments(c.Request().Context(), q)
		return segmentRows{page: page, shown: int64(req.Page*req.PageSize + len(page.List)), next: req.Page + 1}, err
	}
	pages := req.Page + 1
	if pages*req.PageSize > models.MaxPageSize {
		pages = max(1, models.MaxPageSize/req.PageSize)
	}
	q.Page, q.PageSize = 0, pages*req.PageSize
	page, err := lib.Segments(c.Request().Context(), q)
	return segmentRows{page: page, shown: int64(len(page.List)), next: pages}, err
}

// ListSegments shows Audience library › Shared audiences, only its results
// when HTMX refreshes them, or only the next rows for Load more.
func (h *Handlers) ListSegments(c echo.Context) error {
	q, query := segmentListQuery(c, "pageSize")
	appending := wantsFragment(c, librarypages.MoreID)
	rows, err := h.loadSegmentRows(c, h.Library, query, appending)
	if err != nil {
		return err
	}
	vm := librarypages.ListVM{URL: components.ListURL{Path: librarypages.Base, Query: q}, Page: rows.page, Shown: rows.shown,
		NextPage: rows.next, Appending: appending, CanChange: canChangeLibrary(Me(c))}
	switch {
	case appending:
		return render(c, http.StatusOK, librarypages.Rows(vm))
	case wantsFragment(c, librarypages.ResultsID):
		return render(c, http.StatusOK, librarypages.Results(vm))
	}
	f := h.Frame(c, "Shared audiences", "library", libraryCrumbs...)
	f.Subtitle = "Segments of the audience library, of Experience Cloud visitor IDs or declared IDs: import them as lists, or export recipients to them."
	if vm.CanChange {
		f.NewMenu = []layouts.MenuItem{{Label: "New segment…", Href: librarypages.NewHref, TestID: "new-segment"},
			{Label: "Upload a batch file…", Href: librarypages.FilesHref, TestID: "upload-batch"}}
	}
	return render(c, http.StatusOK, librarypages.List(f, vm))
}

// parseDataSourceID reads a data source id from a form; a malformed one
// becomes -1, which the library refuses by naming the field.
func parseDataSourceID(raw string) int64 {
	if raw == "" {
		return 0
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return -1
	}
	return id
}

// segmentInput reads a segment form, with the data source as typed.
func segmentInput(c echo.Context) (library.SegmentInput, string) {
	raw := strings.TrimSpace(c.FormValue("dataSourceId"))
	return library.SegmentInput{Name: c.FormValue("name"), Description: c.FormValue("description"),
		IntegrationCode: c.FormValue("integrationCode"), DataSourceID: parseDataSourceID(raw), Status: c.FormValue("status"),
		Source: c.FormValue("source")}, raw
}

// inputOf is a segment's current fields, to change one of them.
func inputOf(s library.Segment) library.SegmentInput {
	return library.SegmentInput{Name: s.Name, Description: s.Description, IntegrationCode: s.IntegrationCode, DataSourceID: s.DataSourceID,
		Status: s.Status, Source: s.Source, Collecting: s.Collecting}
}

func (h *Handlers) segmentForm(c echo.Context, status int, vm librarypages.FormVM) error {
	var err error
	if vm.DataSources, err = h.Library.DataSources(c.Request().Context()); err != nil {
		return err
	}
	vm.CSRF = h.Sessions.CSRFToken(c)
	f := h.Frame(c, "New segment", "library", crumbs(libraryCrumbs, layouts.Crumb{Label: "New segment"})...)
	f.Subtitle = "An empty segment of the library; add its members on its page, through the API or with a batch file."
	return render(c, status, librarypages.New(f, vm))
}

// NewSegment shows the New segment form.
func (h *Handlers) NewSegment(c echo.Context) error {
	return h.segmentForm(c, http.StatusOK, librarypages.FormVM{Input: library.SegmentInput{Status: library.Active, Source: library.Sources[0]}})
}

// CreateSegment stores a new, empty segment.
func (h *Handlers) CreateSegment(c echo.Context) error {
	in, raw := segmentInput(c)
	in.Author = Me(c).Login
	seg, err := h.Library.CreateSegment(c.Request().Context(), in)
	if problems, ok := formProblems(err); ok {
		return h.segmentForm(c, statusOfProblem(err), librarypages.FormVM{Input: in, DataSourceID: raw, Errors: problems})
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "Segment "+seg.Name+" created. Add its members below.")
	return redirect(c, librarypages.Href(seg.SID))
}

func (h *Handlers) loadSegment(c echo.Context) (library.Segment, error) {
	sid, err := pathID(c, "sid")
	if err != nil {
		return library.Segment{}, err
	}
	return h.Library.Segment(c.Request().Context(), sid)
}

// ShowSegment shows a segment's page.
func (h *Handlers) ShowSegment(c echo.Context) error {
	seg, err := h.loadSegment(c)
	if err != nil {
		return err
	}
	return h.segmentPage(c, http.StatusOK, librarypages.SegmentVM{Segment: seg, Edit: librarypages.FormOf(seg)})
}

// HistoryPoints is how many size changes a segment's chart shows.
const HistoryPoints = 60

// errSampleTaken stops the members stream after its first batch.
var errSampleTaken = errors.New("members sample taken")

// memberSample is a segment's first members, read from the first batch of
// the stream only.
func (h *Handlers) memberSample(ctx context.Context, sid int64) ([]string, error) {
	var sample []string
	err := h.Library.Members(ctx, sid, func(batch []string) error {
		sample = append([]string(nil), batch[:min(len(batch), librarypages.SampleSize)]...)
		return errSampleTaken
	})
	if errors.Is(err, errSampleTaken) {
		err = nil
	}
	return sample, err
}

func (h *Handlers) segmentPage(c echo.Context, status int, vm librarypages.SegmentVM) error {
	ctx := c.Request().Context()
	seg := vm.Segment
	ds, err := h.Library.DataSource(ctx, seg.DataSourceID)
	switch {
	case err == nil:
		vm.DataSource = &ds
	case !errors.Is(err, models.ErrNotFound):
		return err
	}
	// The Library interface has no size history; the embedded library keeps
	// one in the console's database.
	if _, embedded := h.Library.(*library.Embedded); embedded {
		sizes, err := h.Store.LibSizeHistory(ctx, seg.SID, HistoryPoints)
		if err != nil {
			return err
		}
		vm.History = make([]librarypages.SizePoint, len(sizes))
		for i, s := range sizes {
			vm.History[i] = librarypages.SizePoint{At: s.At, Size: s.Size}
		}
	}
	if vm.Sample, err = h.memberSample(ctx, seg.SID); err != nil {
		return err
	}
	vm.CanEdit, vm.CSRF, vm.MaxBytes = canChangeLibrary(Me(c)), h.Sessions.CSRFToken(c), h.MaxUploadBytes
	if vm.CanEdit && !vm.KeepsDataSource() {
		if vm.Edit.DataSources, err = h.Library.DataSources(ctx); err != nil {
			return err
		}
	}
	f := h.Frame(c, seg.Name, "library", crumbs(libraryCrumbs, layouts.Crumb{Label: seg.Name})...)
	f.Subtitle = "Segment " + vm.SID() + " · " + seg.Source
	return render(c, status, librarypages.Segment(f, vm))
}

// UpdateSegment saves the segment page's Edit form.
func (h *Handlers) UpdateSegment(c echo.Context) error {
	seg, err := h.loadSegment(c)
	if err != nil {
		return err
	}
	in, raw := segmentInput(c)
	in.Collecting = seg.Collecting
	updated, err := h.Library.UpdateSegment(c.Request().Context(), seg.SID, in)
	if problems, ok := formProblems(err); ok {
		return h.segmentPage(c, statusOfProblem(err), librarypages.SegmentVM{Segment: seg,
			Edit: librarypages.FormVM{Input: in, DataSourceID: raw, Errors: problems}})
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "Changes to "+updated.Name+" saved.")
	return redirect(c, librarypages.Href(seg.SID))
}

// SetSegmentStatus activates or deactivates a segment.
func (h *Handlers) SetSegmentStatus(c echo.Context) error {
	seg, err := h.loadSegment(c)
	if err != nil {
		return err
	}
	in := inputOf(seg)
	in.Status = c.FormValue("status")
	if in.Status != library.Active && in.Status != library.Inactive {
		return models.Invalid("status", "must be %s or %s", library.Active, library.Inactive)
	}
	if _, err := h.Library.UpdateSegment(c.Request().Context(), seg.SID, in); err != nil {
		return err
	}
	verb := "activated"
	if in.Status == library.Inactive {
		verb = "deactivated"
	}
	h.flash(c, "success", "Segment "+seg.Name+" "+verb+".")
	return redirect(c, librarypages.Href(seg.SID))
}

// DeleteSegment deletes a segment and its members.
func (h *Handlers) DeleteSegment(c echo.Context) error {
	seg, err := h.loadSegment(c)
	if err != nil {
		return err
	}
	if err := h.Library.DeleteSegment(c.Request().Context(), seg.SID); err != nil {
		return err
	}
	h.flash(c, "success", "Segment "+seg.Name+" deleted with its "+components.Count(seg.Size)+" members.")
	return redirect(c, librarypages.Base)
}
