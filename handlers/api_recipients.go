package handlers

import (
	"mime"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"audiencebridge/importer"
	"audiencebridge/models"
)

// MaxAPIImportErrors is how many rejected lines the import answer lists.
const MaxAPIImportErrors = 1000

type recipientJSON struct {
	ID         int64     `json:"id"`
	Email      string    `json:"email"`
	FirstName  string    `json:"firstName"`
	LastName   string    `json:"lastName"`
	CRMID      string    `json:"crmId"`
	VisitorIDs []string  `json:"visitorIds"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

func recipientOut(r *models.Recipient, visitorIDs []string) recipientJSON {
	if visitorIDs == nil {
		visitorIDs = []string{}
	}
	return recipientJSON{ID: r.ID, Email: r.Email, FirstName: r.FirstName, LastName: r.LastName, CRMID: r.CRM(),
		VisitorIDs: visitorIDs, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// APIListRecipients answers GET /api/v1/recipients.
func (h *Handlers) APIListRecipients(c echo.Context) error {
	ctx := c.Request().Context()
	page, err := h.Store.ListRecipients(ctx, models.RecipientQuery{Search: c.QueryParam("search"), PageRequest: pageRequest(c)})
	if err != nil {
		return err
	}
	ids := make([]int64, len(page.Items))
	for i, r := range page.Items {
		ids[i] = r.ID
	}
	visitors, err := h.Store.VisitorIDsOf(ctx, ids)
	if err != nil {
		return err
	}
	out := pagedJSON[recipientJSON]{Total: page.Total, Page: page.Page, PageSize: page.PageSize, List: []recipientJSON{}}
	for _, r := range page.Items {
		out.List = append(out.List, recipientOut(r, visitors[r.ID]))
	}
	return c.JSON(http.StatusOK, out)
}

func recipientWithVisitors(r *models.Recipient) recipientJSON {
	ids := make([]string, len(r.VisitorIDs))
	for i, v := range r.VisitorIDs {
		ids[i] = v.VisitorID
	}
	return recipientOut(r, ids)
}

// APIShowRecipient answers GET /api/v1/recipients/{id}.
func (h *Handlers) APIShowRecipient(c echo.Context) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	r, err := h.Store.RecipientByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, recipientWithVisitors(r))
}

// APICreateRecipient answers POST /api/v1/recipients.
func (h *Handlers) APICreateRecipient(c echo.Context) error {
	var body struct {
		Email      string   `json:"email"`
		FirstName  string   `json:"firstName"`
		LastName   string   `json:"lastName"`
		CRMID      string   `json:"crmId"`
		VisitorIDs []string `json:"visitorIds"`
	}
	if done, err := decodeJSON(c, &body); done {
		return err
	}
	r, err := h.Store.CreateRecipient(c.Request().Context(), models.RecipientInput{Email: body.Email, FirstName: body.FirstName,
		LastName: body.LastName, CRMID: body.CRMID, VisitorIDs: body.VisitorIDs})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, recipientWithVisitors(r))
}

type importErrorJSON struct {
	Line   int64  `json:"line"`
	Reason string `json:"reason"`
}

// APIImportRecipients answers POST /api/v1/recipients/import: the CSV body
// is streamed through the same import as the console's, right away.
func (h *Handlers) APIImportRecipients(c echo.Context) error {
	mediaType, _, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if err != nil || (mediaType != "text/csv" && mediaType != "text/plain" && mediaType != "application/octet-stream") {
		return apiBadRequest(c, "", "send the CSV file as the body with Content-Type: text/csv")
	}
	body := http.MaxBytesReader(c.Response(), c.Request().Body, h.MaxUploadBytes)
	res, err := importer.ImportStream(c.Request().Context(), h.Store, models.ActorOf(Me(c)), body, "api-import.csv")
	if err != nil {
		var tooBig *http.MaxBytesError
		if asMaxBytes(err, &tooBig) {
			return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "the body is larger than the upload limit: split the file")
		}
		return err
	}
	imp := res.Import
	if imp.Status == models.ImportFailed {
		return c.JSON(http.StatusUnprocessableEntity, map[string]any{"error": imp.Error, "field": "body", "importId": imp.ID})
	}
	rejected, err := h.Store.ImportRejections(c.Request().Context(), imp.ID, MaxAPIImportErrors)
	if err != nil {
		return err
	}
	errs := make([]importErrorJSON, len(rejected))
	for i, r := range rejected {
		errs[i] = importErrorJSON{Line: r.Line, Reason: r.Reason}
	}
	warnings := res.Warnings
	if warnings == nil {
		warnings = []string{}
	}
	return c.JSON(http.StatusOK, map[string]any{"created": imp.CreatedCount, "updated": imp.UpdatedCount, "skipped": imp.SkippedCount,
		"rejected": imp.RejectedCount, "errors": errs, "warnings": warnings, "importId": imp.ID})
}
