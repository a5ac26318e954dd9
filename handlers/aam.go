package handlers

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"audiencebridge/library"
	"audiencebridge/models"
)

// AAMRead and AAMWrite are the entitlements of the /aam/v1 routes, as
// SPEC.md says: reading needs Audience library, writing Audience Manager
// administrator (as for batch files).
var (
	AAMRead  = []models.Entitlement{models.AudienceLibrary}
	AAMWrite = []models.Entitlement{models.AAMAdmin}
)

// aamDataSourceJSON is a library data source in the /aam/v1 API.
type aamDataSourceJSON struct {
	ID              int64  `json:"dataSourceId"`
	Name            string `json:"name"`
	Description     string `json:"description"`
	IntegrationCode string `json:"integrationCode"`
	IDType          string `json:"idType"`
	Status          string `json:"status"`
}

func aamDataSourceOut(d library.DataSource) aamDataSourceJSON {
	return aamDataSourceJSON{ID: d.ID, Name: d.Name, Description: d.Description, IntegrationCode: d.IntegrationCode,
		IDType: string(d.IDType), Status: d.Status}
}

// aamError answers a validation error with 400 naming the field, as the
// Audience Manager API does (the Campaign API says 422); every other error
// goes to the central handler.
func aamError(c echo.Context, err error) error {
	var invalid *models.ValidationError
	if errors.As(err, &invalid) {
		return apiBadRequest(c, invalid.Field, "%s", err.Error())
	}
	return err
}

// aamQueryInt reads an optional whole-number query parameter of at least
// minimum.
func aamQueryInt(c echo.Context, name string, def, minimum int64) (int64, error) {
	raw := strings.TrimSpace(c.QueryParam(name))
	if raw == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < minimum {
		return 0, models.Invalid(name, "must be a whole number of at least %d, not %q", minimum, raw)
	}
	return n, nil
}

// aamQueryBool reads an optional true/false query parameter.
func aamQueryBool(c echo.Context, name string) (bool, error) {
	switch raw := c.QueryParam(name); raw {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, models.Invalid(name, "must be true or false, not %q", raw)
	}
}

// aamPage reads page (from 0) and pageSize, clamping the size to the
// console's maximum.
func aamPage(c echo.Context) (models.PageRequest, error) {
	page, err := aamQueryInt(c, "page", 0, 0)
	if err != nil {
		return models.PageRequest{}, err
	}
	size, err := aamQueryInt(c, "pageSize", models.DefaultPageSize, 1)
	if err != nil {
		return models.PageRequest{}, err
	}
	return models.PageRequest{Page: int(min(page, 1<<30)), PageSize: int(min(size, models.MaxPageSize))}.Normalize(), nil
}

// aamPathParam returns a path parameter decoded: Echo routes on the raw path
// when the request escaped something, and leaves parameters escaped then.
func aamPathParam(c echo.Context, name string) string {
	v := c.Param(name)
	if c.Request().URL.RawPath == "" {
		return v
	}
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

// aamSID parses a segment id of the path; a malformed one is a segment that
// does not exist.
func aamSID(c echo.Context) (int64, error) {
	raw := aamPathParam(c, "sid")
	sid, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || sid <= 0 {
		return 0, fmt.Errorf("segment %q: %w", raw, models.ErrNotFound)
	}
	return sid, nil
}

// AAMListDataSources answers GET /aam/v1/datasources with a paged list;
// sortBy is dataSourceId (the default) or name.
func (h *Handlers) AAMListDataSources(c echo.Context) error {
	req, err := aamPage(c)
	if err != nil {
		return aamError(c, err)
	}
	desc, err := aamQueryBool(c, "descending")
	if err != nil {
		return aamError(c, err)
	}
	sortBy := c.QueryParam("sortBy")
	if sortBy != "" && sortBy != "dataSourceId" && sortBy != "name" {
		return aamError(c, models.Invalid("sortBy", "must be dataSourceId or name, not %q", sortBy))
	}
	all, err := h.Library.DataSources(c.Request().Context())
	if err != nil {
		return err
	}
	// A library has a handful of data sources: they are filtered in memory.
	if term := strings.ToLower(strings.TrimSpace(c.QueryParam("search"))); term != "" {
		all = slices.DeleteFunc(all, func(d library.DataSource) bool {
			return !strings.Contains(strings.ToLower(d.Name+"\n"+d.Description+"\n"+d.IntegrationCode), term)
		})
	}
	slices.SortStableFunc(all, func(a, b library.DataSource) int {
		n := cmp.Compare(a.ID, b.ID)
		if sortBy == "name" {
			n = cmp.Or(cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), n)
		}
		if desc {
			return -n
		}
		return n
	})
	out := pagedJSON[aamDataSourceJSON]{Total: int64(len(all)), Page: req.Page, PageSize: req.PageSize, List: []aamDataSourceJSON{}}
	for _, d := range all[min(req.Offset(), len(all)):min(req.Offset()+req.PageSize, len(all))] {
		out.List = append(out.List, aamDataSourceOut(d))
	}
	return c.JSON(http.StatusOK, out)
}

// AAMShowDataSource answers GET /aam/v1/datasources/:dataSourceId.
func (h *Handlers) AAMShowDataSource(c echo.Context) error {
	raw := aamPathParam(c, "dataSourceId")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return fmt.Errorf("library data source %q: %w", raw, models.ErrNotFound)
	}
	ds, err := h.Library.DataSource(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, aamDataSourceOut(ds))
}

// AAMCreateDataSource answers POST /aam/v1/datasources with 201; a
// dataSourceId of 0 or none gets the next free one.
func (h *Handlers) AAMCreateDataSource(c echo.Context) error {
	var req struct {
		ID              int64  `json:"dataSourceId"`
		Name            string `json:"name"`
		Description     string `json:"description"`
		IntegrationCode string `json:"integrationCode"`
		IDType          string `json:"idType"`
		Status          string `json:"status"`
	}
	if done, err := decodeJSON(c, &req); done {
		return aamError(c, err)
	}
	ds, err := h.Library.CreateDataSource(c.Request().Context(), library.DataSource{ID: req.ID, Name: req.Name, Description: req.Description,
		IntegrationCode: req.IntegrationCode, IDType: library.IDType(req.IDType), Status: req.Status})
	if err != nil {
		return aamError(c, err)
	}
	c.Response().Header().Set(echo.HeaderLocation, "/aam/v1/datasources/"+strconv.FormatInt(ds.ID, 10))
	return c.JSON(http.StatusCreated, aamDataSourceOut(ds))
}

// aamSegmentRequest is the body of POST and PUT /aam/v1/segments. The
// read-only fields of an answer are accepted and ignored, so that a client
// can send back what it read.
type aamSegmentRequest struct {
	Name            string `json:"name"`
	Description     string `json:"description"`
	IntegrationCode string `json:"integrationCode"`
	DataSourceID    int64  `json:"dataSourceId"`
	Status          string `json:"status"`
	Source          string `json:"source"`
	Author          string `json:"author"`

	SID        json.RawMessage `json:"sid"`
	Size       json.RawMessage `json:"size"`
	CreateTime json.RawMessage `json:"createTime"`
	UpdateTime json.RawMessage `json:"updateTime"`
}

func (r aamSegmentRequest) input() library.SegmentInput {
	return library.SegmentInput{Name: r.Name, Description: r.Description, IntegrationCode: r.IntegrationCode,
		DataSourceID: r.DataSourceID, Status: r.Status, Source: r.Source, Author: r.Author}
}

// aamSegmentSorts are the sortBy values of GET /aam/v1/segments.
var aamSegmentSorts = []string{"name", "size", "source", "createTime", "updateTime"}

// AAMListSegments answers GET /aam/v1/segments with a paged list.
func (h *Handlers) AAMListSegments(c echo.Context) error {
	req, err := aamPage(c)
	if err != nil {
		return aamError(c, err)
	}
	q := library.Query{Search: c.QueryParam("search"), SortBy: c.QueryParam("sortBy"), Page: req.Page, PageSize: req.PageSize}
	if q.SortBy != "" && !slices.Contains(aamSegmentSorts, q.SortBy) {
		return aamError(c, models.Invalid("sortBy", "must be one of %s, not %q", strings.Join(aamSegmentSorts, ", "), q.SortBy))
	}
	if q.Descending, err = aamQueryBool(c, "descending"); err != nil {
		return aamError(c, err)
	}
	if q.DataSourceID, err = aamQueryInt(c, "dataSourceId", 0, 1); err != nil {
		return aamError(c, err)
	}
	page, err := h.Library.Segments(c.Request().Context(), q)
	if err != nil {
		return aamError(c, err)
	}
	out := pagedJSON[library.WireSegment]{Total: page.Total, Page: page.Page, PageSize: page.PageSize, List: make([]library.WireSegment, len(page.List))}
	for i, s := range page.List {
		out.List[i] = s.Wire()
	}
	return c.JSON(http.StatusOK, out)
}

// AAMShowSegment answers GET /aam/v1/segments/:sid, and GET
// /aam/v1/segments/ic:<integration code> (Echo cannot route a prefix inside
// a path segment, so the lookup by code is recognised here).
func (h *Handlers) AAMShowSegment(c echo.Context) error {
	ctx := c.Request().Context()
	var (
		seg library.Segment
		err error
	)
	if code, ok := strings.CutPrefix(aamPathParam(c, "sid"), "ic:"); ok {
		seg, err = h.Library.SegmentByIntegrationCode(ctx, code)
	} else {
		var sid int64
		if sid, err = aamSID(c); err == nil {
			seg, err = h.Library.Segment(ctx, sid)
		}
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, seg.Wire())
}

// AAMCreateSegment answers POST /aam/v1/segments with 201 and the new,
// empty segment; its author is the token's operator unless the body names
// one.
func (h *Handlers) AAMCreateSegment(c echo.Context) error {
	var req aamSegmentRequest
	if done, err := decodeJSON(c, &req); done {
		return aamError(c, err)
	}
	in := req.input()
	if strings.TrimSpace(in.Author) == "" {
		in.Author = Me(c).Login
	}
	seg, err := h.Library.CreateSegment(c.Request().Context(), in)
	if err != nil {
		return aamError(c, err)
	}
	c.Response().Header().Set(echo.HeaderLocation, "/aam/v1/segments/"+strconv.FormatInt(seg.SID, 10))
	return c.JSON(http.StatusCreated, seg.Wire())
}

// AAMUpdateSegment answers PUT /aam/v1/segments/:sid: the body replaces the
// segment's fields (status and source back to their defaults when omitted;
// an omitted dataSourceId or author is kept). Members stay.
func (h *Handlers) AAMUpdateSegment(c echo.Context) error {
	sid, err := aamSID(c)
	if err != nil {
		return err
	}
	var req aamSegmentRequest
	if done, err := decodeJSON(c, &req); done {
		return aamError(c, err)
	}
	seg, err := h.Library.UpdateSegment(c.Request().Context(), sid, req.input())
	if err != nil {
		return aamError(c, err)
	}
	return c.JSON(http.StatusOK, seg.Wire())
}

// AAMDeleteSegment answers DELETE /aam/v1/segments/:sid with 204.
func (h *Handlers) AAMDeleteSegment(c echo.Context) error {
	sid, err := aamSID(c)
	if err != nil {
		return err
	}
	if err := h.Library.DeleteSegment(c.Request().Context(), sid); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
