package handlers

import (
	"bufio"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/labstack/echo/v4"

	"audiencebridge/library"
	librarypages "audiencebridge/views/pages/library"
)

// memberChange is one of the library's member changes.
type memberChange func(ctx context.Context, sid int64, src library.MemberSource) (library.MemberResult, error)

// memberChangeOf returns the library call for a form's change: add, remove
// or replace.
func (h *Handlers) memberChangeOf(change string) (memberChange, bool) {
	switch change {
	case librarypages.ChangeAdd:
		return h.Library.AddMembers, true
	case librarypages.ChangeRemove:
		return h.Library.RemoveMembers, true
	case librarypages.ChangeReplace:
		return h.Library.ReplaceMembers, true
	}
	return nil, false
}

const chooseChange = "Choose whether to add, remove or replace the members."

// memberReport answers a member change with the segment's page, reloaded
// for its new size, topped by the report.
func (h *Handlers) memberReport(c echo.Context, sid int64, report librarypages.MemberReport) error {
	seg, err := h.Library.Segment(c.Request().Context(), sid)
	if err != nil {
		return err
	}
	return h.segmentPage(c, http.StatusOK, librarypages.SegmentVM{Segment: seg, Edit: librarypages.FormOf(seg), Report: &report,
		Change: report.Change})
}

// ChangeSegmentMembers applies identifiers pasted in the segment page's
// text area; the form limit of the console bounds them.
func (h *Handlers) ChangeSegmentMembers(c echo.Context) error {
	seg, err := h.loadSegment(c)
	if err != nil {
		return err
	}
	change, text := c.FormValue("change"), c.FormValue("members")
	vm := librarypages.SegmentVM{Segment: seg, Edit: librarypages.FormOf(seg), Change: change, Pasted: text}
	apply, ok := h.memberChangeOf(change)
	switch {
	case !ok:
		vm.PasteErr = chooseChange
	case strings.TrimSpace(text) == "":
		vm.PasteErr = "Paste at least one identifier, one a line."
	}
	if vm.PasteErr != "" {
		return h.segmentPage(c, http.StatusUnprocessableEntity, vm)
	}
	res, err := apply(c.Request().Context(), seg.SID, library.Lines(strings.NewReader(text)))
	if err != nil {
		return err
	}
	return h.memberReport(c, seg.SID, librarypages.MemberReport{Change: change, From: "the pasted text", Result: res})
}

// tooLarge reports whether reading a body hit a size limit: the upload's
// own, or the console's form limit while the route is not among those that
// stream their body.
func tooLarge(err error) bool {
	var mb *http.MaxBytesError
	return errors.As(err, &mb) || errors.Is(err, echo.ErrStatusRequestEntityTooLarge)
}

// UploadSegmentMembers applies a .txt or .csv file of identifiers. The file
// is streamed from the request into the library line by line, never held
// in memory or spooled: the add/remove/replace choice comes before it in
// the form, and the CSRF token in the action URL.
func (h *Handlers) UploadSegmentMembers(c echo.Context) error {
	seg, err := h.loadSegment(c)
	if err != nil {
		return err
	}
	vm := librarypages.SegmentVM{Segment: seg, Edit: librarypages.FormOf(seg)}
	refuse := func(status int, msg string) error {
		vm.FileErr = msg
		return h.segmentPage(c, status, vm)
	}
	limit := "The file is larger than the " + librarypages.Bytes(h.MaxUploadBytes) + " limit: split it into smaller files."
	mediaType, _, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if err != nil || mediaType != "multipart/form-data" {
		return refuse(http.StatusBadRequest, "Choose a .txt or .csv file with the file field of this form.")
	}
	c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, h.MaxUploadBytes+1<<20)
	mr, err := c.Request().MultipartReader()
	if err != nil {
		return refuse(http.StatusBadRequest, "The upload could not be read: choose the file again.")
	}
	for {
		part, err := mr.NextPart()
		switch {
		case errors.Is(err, io.EOF):
			return refuse(http.StatusUnprocessableEntity, "Choose a .txt or .csv file to upload.")
		case tooLarge(err):
			return refuse(http.StatusRequestEntityTooLarge, limit)
		case err != nil:
			return refuse(http.StatusBadRequest, "The upload was interrupted: try again.")
		}
		switch part.FormName() {
		case "change":
			v, err := io.ReadAll(io.LimitReader(part, 16))
			if err != nil {
				return refuse(http.StatusBadRequest, "The upload was interrupted: try again.")
			}
			vm.Change = string(v)
			continue
		case "file":
		default:
			continue
		}
		apply, ok := h.memberChangeOf(vm.Change)
		if !ok {
			return refuse(http.StatusUnprocessableEntity, chooseChange+" The choice comes before the file in the form.")
		}
		name := part.FileName()
		if name == "" {
			return refuse(http.StatusUnprocessableEntity, "Choose a .txt or .csv file to upload.")
		}
		body := bufio.NewReader(part)
		if _, err := body.Peek(1); errors.Is(err, io.EOF) {
			return refuse(http.StatusUnprocessableEntity, "The file "+name+" is empty: it needs one identifier a line.")
		}
		var src library.MemberSource
		switch strings.ToLower(filepath.Ext(name)) {
		case ".txt":
			src = library.Lines(body)
		case ".csv":
			src = firstColumn{library.Lines(body)}
		default:
			return refuse(http.StatusUnprocessableEntity, "Choose a .txt or .csv file: "+name+" is neither.")
		}
		res, err := apply(c.Request().Context(), seg.SID, src)
		switch {
		case tooLarge(err):
			return refuse(http.StatusRequestEntityTooLarge, limit)
		case err != nil:
			return err
		}
		return h.memberReport(c, seg.SID, librarypages.MemberReport{Change: vm.Change, From: name, Result: res})
	}
}

// firstColumn reads a CSV file's first column, one identifier a line.
type firstColumn struct{ src library.MemberSource }

func (f firstColumn) Next() (string, error) {
	line, err := f.src.Next()
	if err != nil {
		return line, err
	}
	if i := strings.IndexAny(line, ",;\t"); i >= 0 {
		line = line[:i]
	}
	return strings.Trim(strings.TrimSpace(line), `"`), nil
}
