package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"audiencebridge/identity"
	"audiencebridge/models"
)

// dataSourceJSON is a data source in the Campaign API.
type dataSourceJSON struct {
	ID                 int64           `json:"id"`
	Label              string          `json:"label"`
	InternalName       string          `json:"internalName"`
	TargetingDimension string          `json:"targetingDimension"`
	IDType             identity.IDType `json:"idType"`
	ReconciliationKey  identity.Key    `json:"reconciliationKey"`
	IntegrationCode    string          `json:"integrationCode"`
	AAMDataSourceID    *int64          `json:"aamDataSourceId"`
	AAMDestinationID   *int64          `json:"aamDestinationId"`
	HashAlgorithm      identity.Hash   `json:"hashAlgorithm"`
	Comment            string          `json:"comment"`
	BuiltIn            bool            `json:"builtIn"`
	CreatedAt          time.Time       `json:"createdAt"`
	UpdatedAt          time.Time       `json:"updatedAt"`
}

func dataSourceOut(d *models.DataSource) dataSourceJSON {
	return dataSourceJSON{ID: d.ID, Label: d.Label, InternalName: d.InternalName, TargetingDimension: d.TargetingDimension,
		IDType: d.IDType, ReconciliationKey: d.ReconciliationKey, IntegrationCode: d.IntegrationCode,
		AAMDataSourceID: d.AAMDataSourceID, AAMDestinationID: d.AAMDestinationID, HashAlgorithm: d.HashAlgorithm,
		Comment: d.Comment, BuiltIn: d.BuiltIn, CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC()}
}

// pagedJSON is a paged answer of the API.
type pagedJSON[T any] struct {
	Total    int64 `json:"total"`
	Page     int   `json:"page"`
	PageSize int   `json:"pageSize"`
	List     []T   `json:"list"`
}

// dataSourceRequest is the body of POST and PUT. The read-only fields of an
// answer are accepted and ignored, so that a client can send back what it
// read.
type dataSourceRequest struct {
	Label              string          `json:"label"`
	InternalName       string          `json:"internalName"`
	TargetingDimension string          `json:"targetingDimension"`
	IDType             string          `json:"idType"`
	ReconciliationKey  string          `json:"reconciliationKey"`
	IntegrationCode    string          `json:"integrationCode"`
	AAMDataSourceID    json.RawMessage `json:"aamDataSourceId"`
	AAMDestinationID   json.RawMessage `json:"aamDestinationId"`
	HashAlgorithm      string          `json:"hashAlgorithm"`
	Comment            string          `json:"comment"`

	ID        json.RawMessage `json:"id"`
	BuiltIn   json.RawMessage `json:"builtIn"`
	CreatedAt json.RawMessage `json:"createdAt"`
	UpdatedAt json.RawMessage `json:"updatedAt"`
}

// apiNumber turns a JSON number (or null) into the text the model
// validates; a string is refused so that "1234" and 1234 are not confused.
func apiNumber(v *models.ValidationErrors, field string, raw json.RawMessage) string {
	s := strings.TrimSpace(string(raw))
	switch {
	case s == "" || s == "null":
		return ""
	case strings.HasPrefix(s, `"`):
		v.Add(field, "must be a JSON number such as 1234, not a string")
		return ""
	}
	return s
}

func (r dataSourceRequest) input() (models.DataSourceInput, error) {
	var v models.ValidationErrors
	in := models.DataSourceInput{Label: r.Label, InternalName: r.InternalName, TargetingDimension: r.TargetingDimension,
		IDType: r.IDType, ReconciliationKey: r.ReconciliationKey, IntegrationCode: r.IntegrationCode,
		AAMDataSourceID: apiNumber(&v, "aamDataSourceId", r.AAMDataSourceID), AAMDestinationID: apiNumber(&v, "aamDestinationId", r.AAMDestinationID),
		HashAlgorithm: r.HashAlgorithm, Comment: r.Comment}
	return in, v.Err()
}

// apiBadRequest answers a body that cannot be read as the request it should
// be. It writes the answer itself: the central error handler has no 400
// that names a field.
func apiBadRequest(c echo.Context, field, format string, args ...any) error {
	return c.JSON(http.StatusBadRequest, map[string]string{"error": fmt.Sprintf(format, args...), "field": field})
}

// decodeJSON reads a JSON object into v, refusing unknown fields and
// trailing data. It answers 400 itself and reports done when the body was
// refused; a value of the wrong type is a validation error naming its field.
func decodeJSON(c echo.Context, v any) (done bool, err error) {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var httpErr *echo.HTTPError
		if errors.As(err, &httpErr) {
			return true, httpErr // the body is too large
		}
		return true, fmt.Errorf("read the request body: %w", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return true, apiBadRequest(c, "", "the body is empty: send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return true, apiBadRequest(c, "", "the body must be a JSON object, not a JSON %s", typeErr.Value)
	case errors.As(err, &typeErr):
		return true, models.Invalid(typeErr.Field, "must be a JSON %s, not a %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	case err != nil && strings.HasPrefix(err.Error(), "json: unknown field "):
		name, uerr := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		if uerr != nil {
			name = ""
		}
		return true, apiBadRequest(c, name, "unknown field %q", name)
	case err != nil:
		return true, apiBadRequest(c, "", "the body is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return true, apiBadRequest(c, "", "the body is not valid JSON: it holds more than one value")
	}
	return false, nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	}
	return "number"
}

// APIListDataSources answers GET /api/v1/datasources.
func (h *Handlers) APIListDataSources(c echo.Context) error {
	q := models.DataSourceQuery{Search: c.QueryParam("search"), Sort: c.QueryParam("sortBy"),
		Descending: c.QueryParam("descending") == "true", PageRequest: pageRequest(c)}
	page, err := h.Store.ListDataSources(c.Request().Context(), q)
	if err != nil {
		return err
	}
	out := pagedJSON[dataSourceJSON]{Total: page.Total, Page: page.Page, PageSize: page.PageSize, List: make([]dataSourceJSON, len(page.Items))}
	for i, d := range page.Items {
		out.List[i] = dataSourceOut(d)
	}
	return c.JSON(http.StatusOK, out)
}

// APIShowDataSource answers GET /api/v1/datasources/:internalName.
func (h *Handlers) APIShowDataSource(c echo.Context) error {
	ds, err := h.Store.DataSourceByInternalName(c.Request().Context(), c.Param("internalName"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, dataSourceOut(ds))
}

// readDataSource reads the body of POST and PUT; done is set when the
// answer has been written or err is to be returned.
func readDataSource(c echo.Context) (in models.DataSourceInput, done bool, err error) {
	var req dataSourceRequest
	if done, err := decodeJSON(c, &req); done {
		return in, true, err
	}
	in, err = req.input()
	return in, err != nil, err
}

// APICreateDataSource answers POST /api/v1/datasources with 201.
func (h *Handlers) APICreateDataSource(c echo.Context) error {
	in, done, err := readDataSource(c)
	if done {
		return err
	}
	ds, err := h.Store.CreateDataSource(c.Request().Context(), models.ActorOf(Me(c)), in)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/datasources/"+ds.InternalName)
	return c.JSON(http.StatusCreated, dataSourceOut(ds))
}

// APIUpdateDataSource answers PUT /api/v1/datasources/:internalName: the
// body replaces every field (an omitted internal name means unchanged).
func (h *Handlers) APIUpdateDataSource(c echo.Context) error {
	in, done, err := readDataSource(c)
	if done {
		return err
	}
	ds, err := h.Store.UpdateDataSource(c.Request().Context(), models.ActorOf(Me(c)), c.Param("internalName"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, dataSourceOut(ds))
}

// APIDeleteDataSource answers DELETE /api/v1/datasources/:internalName with 204.
func (h *Handlers) APIDeleteDataSource(c echo.Context) error {
	if err := h.Store.DeleteDataSource(c.Request().Context(), models.ActorOf(Me(c)), c.Param("internalName")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
