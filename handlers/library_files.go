package handlers

import (
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/labstack/echo/v4"

	"audiencebridge/library"
	"audiencebridge/views/layouts"
	librarypages "audiencebridge/views/pages/library"
)

func (h *Handlers) batchFilesPage(c echo.Context, status int, vm librarypages.FilesVM) error {
	vm.CSRF = h.Sessions.CSRFToken(c)
	f := h.Frame(c, "Upload a batch file", "library", layouts.Crumb{Label: "Audience library"},
		layouts.Crumb{Label: "Shared audiences", Href: librarypages.Base}, layouts.Crumb{Label: "Batch file"})
	f.Subtitle = "Adds, removes or overwrites memberships of many users across segments, as Audience Manager's inbound files do."
	return render(c, status, librarypages.Files(f, vm))
}

// ShowBatchFiles shows the batch file upload form.
func (h *Handlers) ShowBatchFiles(c echo.Context) error {
	return h.batchFilesPage(c, http.StatusOK, librarypages.FilesVM{})
}

// UploadBatchFile streams an uploaded batch file through the embedded
// library's batch processor and shows its report.
func (h *Handlers) UploadBatchFile(c echo.Context) error {
	lib, ok := h.Library.(*library.Embedded)
	if !ok {
		return h.batchFilesPage(c, http.StatusConflict, librarypages.FilesVM{Error: "Batch files are applied by the embedded audience library, and this console uses a remote one: send the file to it."})
	}
	mediaType, _, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if err != nil || mediaType != "multipart/form-data" {
		return h.batchFilesPage(c, http.StatusBadRequest, librarypages.FilesVM{Error: "Choose a batch file with the file field of this form."})
	}
	c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, MaxBatchFileBytes)
	mr, err := c.Request().MultipartReader()
	if err != nil {
		return h.batchFilesPage(c, http.StatusBadRequest, librarypages.FilesVM{Error: "The upload could not be read: choose the file again."})
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) || (err == nil && part.FormName() == "file" && part.FileName() == "") {
			return h.batchFilesPage(c, http.StatusUnprocessableEntity, librarypages.FilesVM{Error: "Choose a batch file to apply."})
		}
		if err != nil {
			return h.batchFilesPage(c, http.StatusBadRequest, librarypages.FilesVM{Error: "The upload was interrupted: try again."})
		}
		if part.FormName() != "file" {
			continue
		}
		name := part.FileName()
		rep, err := library.NewBatchProcessor(lib).Process(c.Request().Context(), name, part)
		var (
			refused *library.FileError
			broken  *library.ReadError
		)
		vm := librarypages.FilesVM{Name: name, Report: &rep}
		switch {
		case err == nil:
			return h.batchFilesPage(c, http.StatusOK, vm)
		case errors.As(err, &refused):
			return h.batchFilesPage(c, http.StatusBadRequest, librarypages.FilesVM{Error: capitalize(refused.Error()) + "."})
		case errors.As(err, &broken):
			vm.Broken = capitalize(broken.Error()) + "."
			return h.batchFilesPage(c, http.StatusOK, vm)
		}
		return err
	}
}
