package handlers

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"audiencebridge/library"
	"audiencebridge/models"
)

// MaxBatchFileBytes bounds a batch file sent to POST /aam/v1/files; a
// larger upload is split into .1, .2, ... files.
const MaxBatchFileBytes = 1 << 30

// BatchFileEntitlements are what publishing batch files needs.
var BatchFileEntitlements = []models.Entitlement{models.AAMAdmin}

// AAMPublishBatchFile answers POST /aam/v1/files?name=<file name>: the body
// is an inbound batch file, streamed through the embedded library's batch
// processor, and the answer its processing report.
func (h *Handlers) AAMPublishBatchFile(c echo.Context) error {
	name := c.QueryParam("name")
	if _, err := library.ParseBatchName(name); err != nil {
		return batchFileRefused(c, err)
	}
	lib, ok := h.Library.(*library.Embedded)
	if !ok {
		return &models.ConflictError{Message: "batch files are applied by the embedded audience library, and this console uses a remote one: send the file to it"}
	}
	body := http.MaxBytesReader(c.Response(), c.Request().Body, MaxBatchFileBytes)
	rep, err := library.NewBatchProcessor(lib).Process(c.Request().Context(), name, body)
	var (
		refused *library.FileError
		broken  *library.ReadError
		tooBig  *http.MaxBytesError
	)
	switch {
	case err == nil:
	case errors.As(err, &refused):
		return batchFileRefused(c, err)
	case errors.As(err, &tooBig):
		// The central error handler would speak of the form limit.
		return c.JSON(http.StatusRequestEntityTooLarge, map[string]any{
			"error":  fmt.Sprintf("the file is larger than %d bytes: split it into .1, .2, ... files; its first %d lines were processed", tooBig.Limit, rep.Lines),
			"report": rep,
		})
	case errors.As(err, &broken):
		// A truncated file is reported like a whole one: the report says
		// where it stopped and what was applied before.
	default:
		return err
	}
	return c.JSON(http.StatusOK, rep)
}

// batchFileRefused answers 400 for a file refused as a whole, naming the
// query parameter when the name is to blame.
func batchFileRefused(c echo.Context, err error) error {
	body := map[string]string{"error": err.Error()}
	var refused *library.FileError
	if errors.As(err, &refused) && refused.Field != "" {
		body["field"] = refused.Field
	}
	return c.JSON(http.StatusBadRequest, body)
}
