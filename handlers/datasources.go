package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"audiencebridge/models"
	"audiencebridge/views/components"
	"audiencebridge/views/layouts"
	"audiencebridge/views/pages/datasources"
)

var dataSourcesCrumbs = []layouts.Crumb{{Label: "Administration"}, {Label: "Platform"},
	{Label: "AMC Data sources", Href: datasources.Base}}

// ListDataSources shows Administration › Platform › AMC Data sources, or
// only its results when HTMX refreshes them while the admin types a search.
func (h *Handlers) ListDataSources(c echo.Context) error {
	q := models.DataSourceQuery{Search: c.QueryParam("search"), Sort: c.QueryParam("sort"), Descending: c.QueryParam("desc") == "1",
		PageRequest: pageRequest(c)}
	page, err := h.Store.ListDataSources(c.Request().Context(), q)
	if err != nil {
		return err
	}
	vm := datasources.ListVM{URL: components.ListURL{Path: datasources.Base, Query: queryOf(c, "search", "sort", "desc", "page")}, Page: page}
	if wantsFragment(c, datasources.ResultsID) {
		return render(c, http.StatusOK, datasources.Results(vm))
	}
	f := h.Frame(c, "AMC Data sources", "datasources", dataSourcesCrumbs...)
	f.Subtitle = "How the identifiers of shared audiences reconcile with recipients."
	f.NewMenu = []layouts.MenuItem{{Label: "New data source…", Href: datasources.Base + "/new", TestID: "new-datasource"}}
	return render(c, http.StatusOK, datasources.List(f, vm))
}

// NewDataSource shows the creation form, or only its reconciliation key
// field when HTMX refreshes it after the ID type changed.
func (h *Handlers) NewDataSource(c echo.Context) error {
	vm := datasources.FormVM{Input: models.DataSourceInput{TargetingDimension: models.TargetRecipient,
		IDType: "visitorId", ReconciliationKey: "visitorId", HashAlgorithm: "none"}}
	if wantsFragment(c, datasources.KeyFieldID) {
		return renderKeyField(c, vm)
	}
	return h.dataSourceForm(c, http.StatusOK, vm)
}

func renderKeyField(c echo.Context, vm datasources.FormVM) error {
	vm.Input.IDType, vm.Input.ReconciliationKey = c.QueryParam("idType"), c.QueryParam("reconciliationKey")
	vm.FitKey()
	return render(c, http.StatusOK, datasources.KeyField(vm))
}

func (h *Handlers) dataSourceForm(c echo.Context, status int, vm datasources.FormVM) error {
	vm.CSRF = h.Sessions.CSRFToken(c)
	f := h.Frame(c, "New data source", "datasources", crumbs(dataSourcesCrumbs, layouts.Crumb{Label: "New data source"})...)
	return render(c, status, datasources.New(f, vm))
}

// dataSourceInput reads the form's fields.
func dataSourceInput(c echo.Context) (models.DataSourceInput, error) {
	form, err := c.FormParams()
	if err != nil {
		return models.DataSourceInput{}, echo.NewHTTPError(http.StatusBadRequest, "the form could not be read")
	}
	return models.DataSourceInput{Label: form.Get("label"), InternalName: form.Get("internalName"),
		TargetingDimension: form.Get("targetingDimension"), IDType: form.Get("idType"), ReconciliationKey: form.Get("reconciliationKey"),
		IntegrationCode: form.Get("integrationCode"), AAMDataSourceID: form.Get("aamDataSourceId"),
		AAMDestinationID: form.Get("aamDestinationId"), HashAlgorithm: form.Get("hashAlgorithm"), Comment: form.Get("comment")}, nil
}

// CreateDataSource stores a new data source from the form.
func (h *Handlers) CreateDataSource(c echo.Context) error {
	in, err := dataSourceInput(c)
	if err != nil {
		return err
	}
	ds, err := h.Store.CreateDataSource(c.Request().Context(), models.ActorOf(Me(c)), in)
	if problems, ok := formProblems(err); ok {
		return h.dataSourceForm(c, statusOfProblem(err), datasources.FormVM{Input: in, Errors: problems})
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "Data source "+ds.Label+" ("+ds.InternalName+") created.")
	return redirect(c, datasources.Href(ds))
}

// ShowDataSource shows a data source's record page, or only its
// reconciliation key field when HTMX refreshes it.
func (h *Handlers) ShowDataSource(c echo.Context) error {
	ds, err := h.Store.DataSourceByInternalName(c.Request().Context(), c.Param("name"))
	if err != nil {
		return err
	}
	vm := datasources.FormVM{DataSource: ds, Input: ds.Input()}
	if wantsFragment(c, datasources.KeyFieldID) {
		return renderKeyField(c, vm)
	}
	return h.dataSourceRecord(c, http.StatusOK, vm)
}

func (h *Handlers) dataSourceRecord(c echo.Context, status int, vm datasources.FormVM) error {
	ctx := c.Request().Context()
	var err error
	if vm.Usage, err = h.Store.DataSourceUsage(ctx, vm.DataSource.ID); err != nil {
		return err
	}
	history, err := h.Store.ListAudit(ctx, models.AuditQuery{TargetType: "datasource", TargetID: strconv.FormatInt(vm.DataSource.ID, 10),
		PageRequest: models.PageRequest{PageSize: 10}})
	if err != nil {
		return err
	}
	vm.Audit, vm.CSRF = history.Items, h.Sessions.CSRFToken(c)
	f := h.Frame(c, vm.DataSource.Label, "datasources", crumbs(dataSourcesCrumbs, layouts.Crumb{Label: vm.DataSource.Label})...)
	f.Subtitle = vm.DataSource.IDTypeLabel() + " · " + vm.DataSource.InternalName
	return render(c, status, datasources.Record(f, vm))
}

// UpdateDataSource saves the record page's form.
func (h *Handlers) UpdateDataSource(c echo.Context) error {
	in, err := dataSourceInput(c)
	if err != nil {
		return err
	}
	name := c.Param("name")
	ds, err := h.Store.UpdateDataSource(c.Request().Context(), models.ActorOf(Me(c)), name, in)
	if problems, ok := formProblems(err); ok {
		current, lerr := h.Store.DataSourceByInternalName(c.Request().Context(), name)
		if lerr != nil {
			return lerr
		}
		return h.dataSourceRecord(c, statusOfProblem(err), datasources.FormVM{DataSource: current, Input: in, Errors: problems})
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "Changes to "+ds.Label+" ("+ds.InternalName+") saved.")
	return redirect(c, datasources.Href(ds))
}

// DeleteDataSource deletes a data source that nothing uses; a refusal is
// explained on the record page.
func (h *Handlers) DeleteDataSource(c echo.Context) error {
	name := c.Param("name")
	err := h.Store.DeleteDataSource(c.Request().Context(), models.ActorOf(Me(c)), name)
	var conflict *models.ConflictError
	if errors.As(err, &conflict) && !isHTMX(c) {
		current, lerr := h.Store.DataSourceByInternalName(c.Request().Context(), name)
		if lerr != nil {
			return lerr
		}
		return h.dataSourceRecord(c, http.StatusConflict, datasources.FormVM{DataSource: current, Input: current.Input(),
			DeleteError: capitalize(conflict.Message) + "."})
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "Data source "+name+" deleted.")
	return redirect(c, datasources.Base)
}
