package handlers

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/riverqueue/river"

	"audiencebridge/importer"
	"audiencebridge/models"
	"audiencebridge/views/components"
	"audiencebridge/views/layouts"
	"audiencebridge/views/pages/imports"
)

// Enqueuer schedules a background job inside a transaction of the store.
type Enqueuer interface {
	EnqueueTx(ctx context.Context, tx *models.Store, args river.JobArgs, opts *river.InsertOpts) (int64, error)
}

var importCrumbs = []layouts.Crumb{{Label: "Profiles and Targets"}, {Label: "Recipients", Href: "/recipients"}, {Label: "Import", Href: "/recipients/import"}}

// PreviewRows is how many rows of a file the mapping step shows.
const PreviewRows = 10

// ShowUpload is the first step of an import: choose a file.
func (h *Handlers) ShowUpload(c echo.Context) error {
	return h.uploadPage(c, http.StatusOK, "")
}

func (h *Handlers) uploadPage(c echo.Context, status int, problem string) error {
	f := h.Frame(c, "Import recipients", "recipients", importCrumbs[:2]...)
	f.Breadcrumbs = append(f.Breadcrumbs, layouts.Crumb{Label: "Import"})
	f.Subtitle = "Step 1 of 3: choose a CSV file. Next you check its columns, then the import runs in the background."
	vm := imports.UploadVM{CSRF: h.Sessions.CSRFToken(c), MaxBytes: h.MaxUploadBytes, ListID: c.QueryParam("list"),
		NewList: c.QueryParam("newList") == "1", Error: problem}
	return render(c, status, imports.Upload(f, vm))
}

// Upload streams the file into the database, never holding it in memory,
// and goes on to the mapping step.
func (h *Handlers) Upload(c echo.Context) error {
	mediaType, _, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if err != nil || mediaType != "multipart/form-data" {
		return h.uploadPage(c, http.StatusBadRequest, "Choose a CSV file with the file field of this form.")
	}
	c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, h.MaxUploadBytes+1<<20)
	mr, err := c.Request().MultipartReader()
	if err != nil {
		return h.uploadPage(c, http.StatusBadRequest, "The upload could not be read: choose the file again.")
	}
	next := c.QueryParams()
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return h.uploadPage(c, http.StatusUnprocessableEntity, "Choose a CSV file to import.")
		}
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return h.uploadPage(c, http.StatusRequestEntityTooLarge, "The file is larger than the "+imports.Bytes(h.MaxUploadBytes)+" limit: split it into smaller files.")
		}
		if err != nil {
			return h.uploadPage(c, http.StatusBadRequest, "The upload was interrupted: try again.")
		}
		switch part.FormName() {
		case "list", "newList":
			v, _ := io.ReadAll(io.LimitReader(part, 64)) // a short form value; a read error leaves it empty
			next.Set(part.FormName(), string(v))
			continue
		case "file":
		default:
			continue
		}
		if part.FileName() == "" {
			return h.uploadPage(c, http.StatusUnprocessableEntity, "Choose a CSV file to import.")
		}
		up, err := h.Store.CreateUpload(c.Request().Context(), models.ActorOf(Me(c)), part.FileName(), part, h.MaxUploadBytes)
		switch {
		case errors.Is(err, models.ErrUploadTooLarge) || errors.As(err, &tooBig):
			return h.uploadPage(c, http.StatusRequestEntityTooLarge, "The file is larger than the "+imports.Bytes(h.MaxUploadBytes)+" limit: split it into smaller files.")
		case err != nil:
			return err
		}
		if up.Size == 0 {
			return h.uploadPage(c, http.StatusUnprocessableEntity, "The file is empty: it needs a header line and one line per recipient.")
		}
		next.Del("_csrf")
		target := "/recipients/import/uploads/" + strconv.FormatInt(up.ID, 10)
		if q := next.Encode(); q != "" {
			target += "?" + q
		}
		return redirect(c, target)
	}
}

func (h *Handlers) mappingPage(c echo.Context, status int, vm imports.MappingVM) error {
	ctx := c.Request().Context()
	head, err := h.Store.UploadHead(ctx, vm.Upload.ID, importer.SniffBytes)
	if err != nil {
		return err
	}
	var delim rune
	if vm.Delimiter != "" {
		delim, _ = utf8.DecodeRuneInString(vm.Delimiter)
	}
	pv, err := importer.SniffWith(head, PreviewRows, delim)
	if err != nil {
		return h.uploadPage(c, http.StatusUnprocessableEntity, capitalize(err.Error()))
	}
	vm.Preview, vm.Delimiter = pv, string(pv.Delimiter)
	if vm.Mapping == nil {
		vm.Mapping = pv.Mapping
	}
	if vm.Lists, err = h.Store.RegularLists(ctx); err != nil {
		return err
	}
	vm.CSRF = h.Sessions.CSRFToken(c)
	f := h.Frame(c, "Import recipients", "recipients", importCrumbs...)
	f.Breadcrumbs = append(f.Breadcrumbs, layouts.Crumb{Label: vm.Upload.FileName})
	f.Subtitle = "Step 2 of 3: check the columns and the options, then start the import."
	return render(c, status, imports.Mapping(f, vm))
}

func (h *Handlers) loadUpload(c echo.Context) (*models.Upload, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return nil, err
	}
	return h.Store.UploadByID(c.Request().Context(), id)
}

// ShowMapping shows the file's first rows and the proposed column mapping.
func (h *Handlers) ShowMapping(c echo.Context) error {
	up, err := h.loadUpload(c)
	if err != nil {
		return err
	}
	vm := imports.MappingVM{Upload: up, Delimiter: c.QueryParam("delimiter"), UpdateExisting: true, ListMode: "none"}
	if id := c.QueryParam("list"); id != "" {
		vm.ListMode, vm.ListID = "existing", id
	}
	if c.QueryParam("newList") == "1" {
		vm.ListMode, vm.NewListLabel = "new", strings.TrimSuffix(up.FileName, ".csv")
	}
	return h.mappingPage(c, http.StatusOK, vm)
}

// StartImport checks the mapping and options and enqueues the import.
func (h *Handlers) StartImport(c echo.Context) error {
	up, err := h.loadUpload(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	head, err := h.Store.UploadHead(ctx, up.ID, importer.SniffBytes)
	if err != nil {
		return err
	}
	delim, _ := utf8.DecodeRuneInString(c.FormValue("delimiter"))
	pv, err := importer.SniffWith(head, 0, delim)
	if err != nil {
		return h.uploadPage(c, http.StatusUnprocessableEntity, capitalize(err.Error()))
	}
	vm := imports.MappingVM{Upload: up, Delimiter: string(pv.Delimiter), UpdateExisting: c.FormValue("updateExisting") == "1",
		ListMode: c.FormValue("listMode"), ListID: c.FormValue("listId"), NewListLabel: c.FormValue("newListLabel")}
	vm.Mapping = make(importer.Mapping, len(pv.Header))
	for i := range pv.Header {
		vm.Mapping[i] = importer.Column(c.FormValue("col" + strconv.Itoa(i)))
	}
	if err := vm.Mapping.Validate(); err != nil {
		vm.Errors.Add("mapping", "%s", capitalize(err.Error()))
	}
	var target models.ImportTarget
	switch vm.ListMode {
	case "new":
		if strings.TrimSpace(vm.NewListLabel) == "" {
			vm.Errors.Add("newListLabel", "enter the label of the new list")
		}
		target.NewListLabel = vm.NewListLabel
	case "existing":
		id, err := strconv.ParseInt(vm.ListID, 10, 64)
		if err != nil {
			vm.Errors.Add("listId", "choose the list")
		}
		target.ListID = id
	default:
		vm.ListMode = "none"
	}
	if len(vm.Errors) > 0 {
		return h.mappingPage(c, http.StatusUnprocessableEntity, vm)
	}
	settings := models.ImportSettings{Delimiter: string(pv.Delimiter), Header: pv.Header, UpdateExisting: vm.UpdateExisting}
	for _, m := range vm.Mapping {
		settings.Mapping = append(settings.Mapping, string(m))
	}
	uploadID := up.ID
	imp, err := h.Store.CreateImport(ctx, models.ActorOf(Me(c)), &models.RecipientImport{UploadID: &uploadID, FileName: up.FileName,
		TotalBytes: up.Size}, settings, target, func(tx *models.Store, importID int64) error {
		_, err := h.Jobs.EnqueueTx(ctx, tx, importer.Args{ImportID: importID}, nil)
		return err
	})
	if problems, ok := formProblems(err); ok {
		for _, p := range problems {
			if p.Field == "" || p.Field == "internalName" || p.Field == "label" {
				// A refusal about the list (shared audience, name taken) belongs
				// to the list choice.
				p = &models.ValidationError{Field: map[bool]string{true: "newListLabel", false: "listId"}[vm.ListMode == "new"], Message: p.Message}
			}
			vm.Errors = append(vm.Errors, p)
		}
		return h.mappingPage(c, statusOfProblem(err), vm)
	}
	if err != nil {
		return err
	}
	return redirect(c, imports.Href(imp))
}

// ShowImport shows an import's progress, or only the progress panel when
// HTMX polls it.
func (h *Handlers) ShowImport(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	imp, err := h.Store.ImportByID(ctx, id)
	if err != nil {
		return err
	}
	vm := imports.ImportVM{Import: imp, CreatedBy: "the API"}
	if vm.Settings, err = imp.Settings(); err != nil {
		return err
	}
	if imp.ListID != nil {
		if vm.List, err = h.Store.ListByID(ctx, *imp.ListID); err != nil && !errors.Is(err, models.ErrNotFound) {
			return err
		}
	}
	if imp.CreatedBy != nil {
		if op, err := h.Store.OperatorByID(ctx, *imp.CreatedBy); err == nil {
			vm.CreatedBy = op.DisplayName()
		}
	}
	if imp.Finished() {
		if vm.Rejected, err = h.Store.ImportRejections(ctx, imp.ID, 100); err != nil {
			return err
		}
	}
	if wantsFragment(c, imports.ProgressID) {
		return render(c, http.StatusOK, imports.Progress(vm))
	}
	f := h.Frame(c, "Import of "+imp.FileName, "recipients", importCrumbs...)
	f.Breadcrumbs = append(f.Breadcrumbs, layouts.Crumb{Label: imp.FileName})
	f.Subtitle = "Step 3 of 3: the import runs in the background; you can leave this page and come back."
	return render(c, http.StatusOK, imports.Page(f, vm))
}

// DownloadRejected streams an import's rejected rows as CSV: line, reason,
// then the row's cells under the file's own header.
func (h *Handlers) DownloadRejected(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	imp, err := h.Store.ImportByID(ctx, id)
	if err != nil {
		return err
	}
	settings, err := imp.Settings()
	if err != nil {
		return err
	}
	name := strings.TrimSuffix(imp.FileName, ".csv") + "-rejected.csv"
	c.Response().Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	c.Response().Header().Set(echo.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	if err := w.Write(neutralize(append([]string{"line", "reason"}, settings.Header...))); err != nil {
		return err
	}
	err = h.Store.EachImportRejection(ctx, imp.ID, func(r *models.ImportRejection) error {
		return w.Write(neutralize(append([]string{strconv.FormatInt(r.Line, 10), r.Reason}, r.Fields()...)))
	})
	w.Flush()
	if err != nil {
		return fmt.Errorf("write rejected rows: %w", err)
	}
	return w.Error()
}

// neutralize keeps spreadsheet programs from running cells as formulas
// (CSV injection): a cell starting with = + - @ or a control character gets
// a leading apostrophe.
func neutralize(cells []string) []string {
	for i, c := range cells {
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			cells[i] = "'" + c
		}
	}
	return cells
}

// ListImports shows the import history.
func (h *Handlers) ListImports(c echo.Context) error {
	page, err := h.Store.ListImports(c.Request().Context(), pageRequest(c))
	if err != nil {
		return err
	}
	f := h.Frame(c, "Import history", "recipients", importCrumbs...)
	f.Breadcrumbs = append(f.Breadcrumbs, layouts.Crumb{Label: "History"})
	f.NewMenu = []layouts.MenuItem{{Label: "Import recipients…", Href: "/recipients/import", TestID: "import-recipients"}}
	return render(c, http.StatusOK, imports.History(f, imports.HistoryVM{URL: components.ListURL{Path: "/recipients/imports", Query: queryOf(c, "page")}, Page: page}))
}
