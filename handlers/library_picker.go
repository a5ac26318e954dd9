package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/views/components"
	librarypages "audiencebridge/views/pages/library"
)

// pickerDataSource reads the picker's dataSource parameter: the library
// data source it is limited to, nil when none is named.
func pickerDataSource(ctx context.Context, lib library.Library, raw string) (*library.DataSource, error) {
	if raw == "" {
		return nil, nil
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return nil, models.Invalid("dataSource", "%q is not a library data source id (DPID)", raw)
	}
	ds, err := lib.DataSource(ctx, id)
	if err != nil {
		return nil, err
	}
	return &ds, nil
}

// ShowPicker answers the picker dialog: the whole picker when it opens, its
// results when searching or sorting, the next rows for Load more. The picker
// lives in a dialog: a browser that opens its address is sent to the
// segments page.
func (h *Handlers) ShowPicker(c echo.Context) error {
	if !isHTMX(c) {
		target := librarypages.Base
		if s := strings.TrimSpace(c.QueryParam("search")); s != "" {
			target += "?" + url.Values{"search": {s}}.Encode()
		}
		return redirect(c, target)
	}
	ctx := c.Request().Context()
	mode := components.PickerMode(c.QueryParam("mode"))
	lib, err := h.pickerLibrary(ctx, mode)
	if err != nil {
		return err
	}
	q, query := segmentListQuery(c, "dataSource", "pageSize")
	q.Set("mode", mode)
	ds, err := pickerDataSource(ctx, lib, q.Get("dataSource"))
	if err != nil {
		return err
	}
	if ds != nil {
		query.DataSourceID = ds.ID
	}
	appending := wantsFragment(c, components.PickerMoreID)
	rows, err := h.loadSegmentRows(c, lib, query, appending)
	if err != nil {
		return err
	}
	vm := components.PickerVM{Mode: mode, DataSource: ds, URL: components.ListURL{Path: components.PickerPath, Query: q}, Page: rows.page,
		Shown: rows.shown, NextPage: rows.next, Appending: appending, CSRF: h.Sessions.CSRFToken(c)}
	switch {
	case appending:
		return render(c, http.StatusOK, components.PickerRows(vm))
	case wantsFragment(c, components.PickerResultsID):
		return render(c, http.StatusOK, components.PickerResults(vm))
	}
	return render(c, http.StatusOK, components.Picker(vm))
}

// pickerLibrary is the library the picker browses: the one the external
// account of its mode (importSharedAudience or exportSharedAudience) names.
func (h *Handlers) pickerLibrary(ctx context.Context, mode string) (library.Library, error) {
	account := models.ImportAccount
	if mode == components.PickerExport {
		account = models.ExportAccount
	}
	return h.Libraries.For(ctx, account)
}

// exportDataSource is the data source of a segment created for an export:
// the one the picker was opened for, else the library's first visitor ID
// data source.
func exportDataSource(ctx context.Context, lib library.Library, raw string) (int64, error) {
	if raw != "" {
		ds, err := pickerDataSource(ctx, lib, raw)
		if err != nil {
			return 0, err
		}
		return ds.ID, nil
	}
	sources, err := lib.DataSources(ctx)
	if err != nil {
		return 0, err
	}
	for _, d := range sources {
		if d.IDType == library.Cookie {
			return d.ID, nil
		}
	}
	return 0, models.Invalid("dataSource", "the library has no visitor ID (COOKIE) data source to create the segment in")
}

// CreatePickerSegment is export mode's Create: a new, empty segment from
// Campaign, marked as collecting data until its first export, shown first
// and selected. Creating an export destination is part of exporting, so it
// needs the Audience library only.
func (h *Handlers) CreatePickerSegment(c echo.Context) error {
	ctx := c.Request().Context()
	q := url.Values{"mode": {components.PickerExport}}
	dsRaw := strings.TrimSpace(c.FormValue("dataSource"))
	if dsRaw != "" {
		q.Set("dataSource", dsRaw)
	}
	size := models.PageRequest{}.Normalize().PageSize
	if raw := c.FormValue("pageSize"); raw != "" {
		if n, err := strconv.Atoi(raw); err == nil {
			size = models.PageRequest{PageSize: n}.Normalize().PageSize
			q.Set("pageSize", strconv.Itoa(size))
		}
	}
	vm := components.PickerVM{Mode: components.PickerExport, URL: components.ListURL{Path: components.PickerPath, Query: q},
		CSRF: h.Sessions.CSRFToken(c), Name: c.FormValue("name")}
	lib, err := h.pickerLibrary(ctx, components.PickerExport)
	if err != nil {
		return err
	}
	dsID, err := exportDataSource(ctx, lib, dsRaw)
	var seg library.Segment
	if err == nil {
		seg, err = lib.CreateSegment(ctx, library.SegmentInput{Name: vm.Name, DataSourceID: dsID, Status: library.Active,
			Source: "Campaign", Author: Me(c).Login, Collecting: true})
	}
	if problems, ok := formProblems(err); ok {
		msg := problems.For("name")
		if msg == "" {
			msg = problems[0].Message
		}
		vm.NameError = capitalize(msg)
		c.Response().Header().Set("HX-Retarget", "#"+components.PickerCreateID)
		c.Response().Header().Set("HX-Reswap", "outerHTML")
		return render(c, statusOfProblem(err), components.PickerCreate(vm))
	}
	if err != nil {
		return err
	}
	// The first page, newest first, with the new segment on top, selected.
	q.Set("sort", "updateTime")
	q.Set("desc", "1")
	query := library.Query{SortBy: "updateTime", Descending: true, PageSize: size}
	if dsRaw != "" {
		query.DataSourceID = dsID
	}
	page, err := lib.Segments(ctx, query)
	if err != nil {
		return err
	}
	if !containsSegment(page.List, seg.SID) {
		page.List = append([]library.Segment{seg}, page.List...)
	}
	vm.Page, vm.Shown, vm.NextPage = page, int64(len(page.List)), 1
	vm.Preselect, vm.Name, vm.OOB = seg.SID, "", true
	vm.Notice = "Segment " + seg.Name + " created and selected: confirm to use it."
	return render(c, http.StatusCreated, joinComponents(components.PickerResults(vm), components.PickerCreate(vm), components.PickerSearch(vm)))
}

func containsSegment(list []library.Segment, sid int64) bool {
	for _, s := range list {
		if s.SID == sid {
			return true
		}
	}
	return false
}
