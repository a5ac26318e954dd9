package handlers

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"audiencebridge/library"
)

// MaxMemberBodyBytes bounds the body of a member change as it travels. The
// member routes skip the console's 1 MB form limit and apply this one.
const MaxMemberBodyBytes = 32 << 20

// aamMaxDecodedBytes bounds a gzip-encoded text body once decoded, so that
// a small body cannot expand into endless work. A JSON body keeps
// MaxMemberBodyBytes decoded: its decoder holds a whole string at a time.
const aamMaxDecodedBytes = 256 << 20

// errAAMDecodedTooLarge is a gzip body that decodes past its limit.
var errAAMDecodedTooLarge = errors.New("the decoded body is too large")

// aamMemberChange is one of the library's member changes.
type aamMemberChange func(ctx context.Context, sid int64, src library.MemberSource) (library.MemberResult, error)

// AAMReplaceMembers answers PUT /aam/v1/segments/:sid/members.
func (h *Handlers) AAMReplaceMembers(c echo.Context) error {
	return h.aamChangeMembers(c, h.Library.ReplaceMembers)
}

// AAMAddMembers answers POST /aam/v1/segments/:sid/members.
func (h *Handlers) AAMAddMembers(c echo.Context) error {
	return h.aamChangeMembers(c, h.Library.AddMembers)
}

// AAMRemoveMembers answers DELETE /aam/v1/segments/:sid/members.
func (h *Handlers) AAMRemoveMembers(c echo.Context) error {
	return h.aamChangeMembers(c, h.Library.RemoveMembers)
}

// aamChangeMembers streams the body, one identifier a line (text/plain) or a
// JSON array of strings, into a member change: malformed identifiers are
// rejected by line (by position in an array) and the rest applied. The body
// may be gzip-encoded; MaxMemberBodyBytes applies to it as sent.
func (h *Handlers) aamChangeMembers(c echo.Context, change aamMemberChange) error {
	sid, err := aamSID(c)
	if err != nil {
		return err
	}
	req := c.Request()
	if req.ContentLength > MaxMemberBodyBytes {
		return aamBodyTooLarge(c) // refused before reading a byte of it
	}
	mediaType, _, err := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	if err != nil || (mediaType != echo.MIMETextPlain && mediaType != echo.MIMEApplicationJSON) {
		return apiBadRequest(c, "Content-Type", "send the members as text/plain (one identifier a line) or as application/json (an array of strings)")
	}
	var body io.Reader = http.MaxBytesReader(c.Response(), req.Body, MaxMemberBodyBytes)
	switch enc := strings.ToLower(strings.TrimSpace(req.Header.Get(echo.HeaderContentEncoding))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return aamMemberError(c, fmt.Errorf("read the gzip header: %w", err))
		}
		limit := int64(aamMaxDecodedBytes)
		if mediaType == echo.MIMEApplicationJSON {
			limit = MaxMemberBodyBytes
		}
		body = &aamLimitedReader{r: zr, left: limit}
	default:
		return apiBadRequest(c, echo.HeaderContentEncoding, "the body may be sent as is or gzip-encoded, not %q", enc)
	}
	var (
		src  library.MemberSource = library.Lines(body)
		list *aamJSONMembers
	)
	if mediaType == echo.MIMEApplicationJSON {
		list = newAAMJSONMembers(body)
		src = list
	}
	res, err := change(req.Context(), sid, src)
	if err != nil {
		return aamMemberError(c, err)
	}
	if list != nil {
		res = list.merge(res)
	}
	if res.Errors == nil {
		res.Errors = []library.LineError{}
	}
	return c.JSON(http.StatusOK, res)
}

// aamBodyTooLarge answers 413 itself: the central handler's message is
// about forms.
func aamBodyTooLarge(c echo.Context) error {
	return c.JSON(http.StatusRequestEntityTooLarge, map[string]string{"field": "body", "error": fmt.Sprintf(
		"the body is larger than %d MiB: send the members in several requests (PUT the first part, then POST the rest), "+
			"gzip-encode the body (Content-Encoding: gzip), or send them as a batch file to POST /aam/v1/files", MaxMemberBodyBytes>>20)})
}

// aamBodyError is a member body that cannot be read as what it claims to be.
type aamBodyError struct{ err error }

func (e *aamBodyError) Error() string { return e.err.Error() }
func (e *aamBodyError) Unwrap() error { return e.err }

// aamBadBody builds an aamBodyError. An io.EOF among args becomes
// io.ErrUnexpectedEOF: the body ended too early, and the library must not
// take it for the end of the members.
func aamBadBody(format string, args ...any) error {
	for i, a := range args {
		if err, ok := a.(error); ok && errors.Is(err, io.EOF) {
			args[i] = io.ErrUnexpectedEOF
		}
	}
	return &aamBodyError{err: fmt.Errorf(format, args...)}
}

// aamMemberError maps what went wrong while reading a member body; the
// change has not been applied (a replacement is swapped in only at the end,
// additions and removals run in one transaction).
func aamMemberError(c echo.Context, err error) error {
	var (
		tooBig  *http.MaxBytesError
		bad     *aamBodyError
		corrupt flate.CorruptInputError
	)
	switch {
	case errors.As(err, &tooBig) || errors.Is(err, errAAMDecodedTooLarge):
		return aamBodyTooLarge(c)
	case errors.As(err, &bad):
		return apiBadRequest(c, "body", "%s", bad.Error())
	case errors.Is(err, bufio.ErrTooLong):
		return apiBadRequest(c, "body", "a line is longer than 1 MiB: send one identifier a line (%v)", err)
	case errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) || errors.As(err, &corrupt):
		return apiBadRequest(c, "body", "the body is not valid gzip: %v", err)
	}
	return aamError(c, err)
}

// aamLimitedReader fails with errAAMDecodedTooLarge past its limit, where
// io.LimitReader would end quietly and truncate the members.
type aamLimitedReader struct {
	r    io.Reader
	left int64
}

func (l *aamLimitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, errAAMDecodedTooLarge
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, errAAMDecodedTooLarge
	}
	return n, err
}

// aamJSONMembers streams a JSON array of strings with json.Decoder.Token, one
// element at a time. An element that is not a usable string is rejected here
// by its position, and yields "" so that positions stay those of the array
// (the library skips blank values without counting them).
type aamJSONMembers struct {
	dec      *json.Decoder
	started  bool
	done     bool
	pos      int
	rejected int
	errors   []library.LineError
}

func newAAMJSONMembers(r io.Reader) *aamJSONMembers {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	return &aamJSONMembers{dec: dec}
}

// Next yields the next element of the array.
func (j *aamJSONMembers) Next() (string, error) {
	if j.done {
		return "", io.EOF
	}
	if !j.started {
		tok, err := j.dec.Token()
		switch {
		case errors.Is(err, io.EOF):
			return "", aamBadBody("the body is empty: send a JSON array of strings")
		case err != nil:
			return "", aamBadBody("the body is not valid JSON: %w", err)
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return "", aamBadBody("the body must be a JSON array of strings")
		}
		j.started = true
	}
	if !j.dec.More() {
		if tok, err := j.dec.Token(); err != nil || tok != json.Delim(']') {
			return "", aamBadBody("the body is not valid JSON: the array is not closed after element %d%s", j.pos, aamCause(err))
		}
		if _, err := j.dec.Token(); !errors.Is(err, io.EOF) {
			return "", aamBadBody("the body is not valid JSON: it holds more than one value")
		}
		j.done = true
		return "", io.EOF
	}
	j.pos++
	tok, err := j.dec.Token()
	if err != nil {
		return "", aamBadBody("the body is not valid JSON at element %d: %w", j.pos, err)
	}
	switch v := tok.(type) {
	case string:
		if strings.TrimSpace(v) == "" {
			j.reject("an empty string is not an identifier")
			return "", nil
		}
		return v, nil
	case json.Delim:
		if err := j.skip(); err != nil {
			return "", err
		}
		kind := "an object"
		if v == '[' {
			kind = "an array"
		}
		j.reject("this is " + kind + ", not a string: send each identifier as a JSON string")
	case json.Number:
		j.reject(fmt.Sprintf("this is the number %s, not a string: send each identifier as a JSON string such as \"%s\"", v, v))
	case bool:
		j.reject(fmt.Sprintf("this is %t, not a string: send each identifier as a JSON string", v))
	case nil:
		j.reject("this is null, not a string: send each identifier as a JSON string")
	}
	return "", nil
}

// skip reads past the rest of an object or array whose opening was read.
func (j *aamJSONMembers) skip() error {
	for depth := 1; depth > 0; {
		tok, err := j.dec.Token()
		if err != nil {
			return aamBadBody("the body is not valid JSON at element %d: %w", j.pos, err)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

func (j *aamJSONMembers) reject(reason string) {
	j.rejected++
	if len(j.errors) < library.MaxLineErrors {
		j.errors = append(j.errors, library.LineError{Line: j.pos, Reason: reason})
	}
}

// merge adds the elements rejected here to the library's answer, in order.
func (j *aamJSONMembers) merge(res library.MemberResult) library.MemberResult {
	if j.rejected == 0 {
		return res
	}
	res.Rejected += j.rejected
	res.Errors = append(res.Errors, j.errors...)
	slices.SortStableFunc(res.Errors, func(a, b library.LineError) int { return a.Line - b.Line })
	res.Errors = res.Errors[:min(len(res.Errors), library.MaxLineErrors)]
	return res
}

func aamCause(err error) string {
	if err == nil || errors.Is(err, io.EOF) {
		return ""
	}
	return ": " + err.Error()
}

// aamMembersPage is the answer of GET /aam/v1/segments/:sid/members.
type aamMembersPage struct {
	Members []string `json:"members"`
	// Next is the after value of the next page, "" after the last one.
	Next string `json:"next"`
}

// AAMListMembers answers GET /aam/v1/segments/:sid/members?after=&limit=:
// up to limit (at most library.MemberBatchSize) members that sort after
// `after`, in identifier order. It is not in Audience Manager's API: a
// remote library's import streams members with it, by keyset.
func (h *Handlers) AAMListMembers(c echo.Context) error {
	sid, err := aamSID(c)
	if err != nil {
		return err
	}
	limit, err := aamQueryInt(c, "limit", library.MemberBatchSize, 1)
	if err != nil {
		return aamError(c, err)
	}
	limit = min(limit, library.MemberBatchSize)
	members, err := h.aamMembersAfter(c.Request().Context(), sid, c.QueryParam("after"), int(limit))
	if err != nil {
		return err
	}
	out := aamMembersPage{Members: members}
	if out.Members == nil {
		out.Members = []string{}
	}
	if len(members) == int(limit) {
		out.Next = members[len(members)-1]
	}
	return c.JSON(http.StatusOK, out)
}

// aamMemberPager is a library that reads a page of members by keyset itself.
type aamMemberPager interface {
	MembersAfter(ctx context.Context, sid int64, after string, limit int) ([]string, error)
}

// errAAMPageFull stops a member stream once a page is read.
var errAAMPageFull = errors.New("page full")

// aamMembersAfter reads up to limit members of a segment that sort after
// `after`.
func (h *Handlers) aamMembersAfter(ctx context.Context, sid int64, after string, limit int) ([]string, error) {
	switch lib := h.Library.(type) {
	case *library.Embedded:
		if _, err := lib.Segment(ctx, sid); err != nil {
			return nil, err
		}
		return lib.Store.LibMembersAfter(ctx, sid, after, limit)
	case aamMemberPager:
		return lib.MembersAfter(ctx, sid, after, limit)
	}
	// Any other library streams in identifier order, as both of ours do:
	// read its stream and keep what comes after `after`.
	var out []string
	err := h.Library.Members(ctx, sid, func(batch []string) error {
		for _, m := range batch {
			if m > after {
				if out = append(out, m); len(out) == limit {
					return errAAMPageFull
				}
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errAAMPageFull) {
		return nil, err
	}
	return out, nil
}
