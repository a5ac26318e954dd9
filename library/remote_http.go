package library

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"audiencebridge/models"
)

// Retry timing of the remote client.
const (
	backoffBase   = 250 * time.Millisecond
	backoffMax    = 5 * time.Second
	maxRetryAfter = 30 * time.Second
	// maxAnswerBytes bounds an answer read into memory: a page of members
	// is about 400 KB of visitor IDs, 2.6 MB of the longest declared IDs.
	maxAnswerBytes = 16 << 20
	// quoteBytes is how much of an answer that is not JSON an error quotes.
	quoteBytes = 200
)

// ErrUnavailable matches every failure to reach the remote library or to
// get a usable answer from it, so the console can say "the library is
// unavailable" (502) instead of reporting an internal error.
var ErrUnavailable = errors.New("the remote library is unavailable")

type unavailableError struct{ msg string }

func (e *unavailableError) Error() string        { return e.msg }
func (e *unavailableError) Is(target error) bool { return target == ErrUnavailable }

func unavailable(format string, args ...any) error {
	return &unavailableError{msg: fmt.Sprintf(format, args...)}
}

// Is makes every RemoteError match ErrUnavailable.
func (e *RemoteError) Is(target error) bool { return target == ErrUnavailable }

// RemoteError is an answer of the remote library that refuses or fails a
// call, other than the ones that have a models error (404, 409, 400 and
// 422): 401 and 403 (the token or API key is refused), 429, 5xx and the
// like. A network failure is a plain error.
type RemoteError struct {
	Method string
	URL    string
	Status int
	// Message is what the remote said: its JSON error, or the start of its
	// body.
	Message  string
	Attempts int

	retryAfter time.Duration
}

func (e *RemoteError) Error() string {
	var msg string
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		msg = fmt.Sprintf("the remote library refused the token or API key: %s %s answered %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
	default:
		msg = fmt.Sprintf("the remote library answered %s %s with %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Attempts > 1 {
		msg += fmt.Sprintf(" (gave up after %d attempts)", e.Attempts)
	}
	return msg
}

// call is one request of the API.
type call struct {
	method string
	path   string // below the API root, escaped
	query  url.Values
	body   any // sent as JSON unless nil
	// what names the resource of the path for a 404 ("segment 12"); a 404
	// of a call without one means the address is wrong.
	what string
}

func (c call) idempotent() bool { return c.method != http.MethodPost }

// do sends a JSON call, retrying what may be retried, and decodes a
// successful answer into out (unless nil).
func (r *Remote) do(ctx context.Context, c call, out any) error {
	var body []byte
	if c.body != nil {
		var err error
		if body, err = json.Marshal(c.body); err != nil {
			return fmt.Errorf("encode the request: %w", err)
		}
	}
	target := r.base + c.path
	if len(c.query) > 0 {
		target += "?" + c.query.Encode()
	}
	return r.retry(ctx, c, func(attempt int) (bool, error) {
		actx, cancel := context.WithTimeout(ctx, r.timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(actx, c.method, target, bytes.NewReader(body))
		if err != nil {
			return false, fmt.Errorf("build the request to the remote library: %w", err)
		}
		if body == nil {
			req.Body, req.GetBody, req.ContentLength = nil, nil, 0
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, raw, err := r.send(req)
		if err != nil {
			return r.failed(ctx, actx, c, err)
		}
		if c.method == http.MethodDelete && resp.StatusCode == http.StatusNotFound && attempt > 0 {
			return false, nil // an earlier attempt deleted it, and its answer was lost
		}
		if err := r.answer(c, resp, raw); err != nil {
			return retryable(c, resp), err
		}
		if out == nil || resp.StatusCode == http.StatusNoContent {
			return false, nil
		}
		if err := json.Unmarshal(raw, out); err != nil {
			return false, r.notJSON(raw)
		}
		return false, nil
	})
}

// send sends a request with the credentials and reads the whole answer
// under the request's context.
func (r *Remote) send(req *http.Request) (*http.Response, []byte, error) {
	req.Header.Set("Authorization", "Bearer "+r.token)
	if r.apiKey != "" {
		req.Header.Set("x-api-key", r.apiKey)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read the answer: %w", err)
	}
	if len(raw) > maxAnswerBytes {
		return nil, nil, fmt.Errorf("the remote library answered more than %d MB", maxAnswerBytes>>20)
	}
	return resp, raw, nil
}

// retry runs attempt until it succeeds, fails for good or the retries are
// spent, waiting between attempts: the Retry-After of a 429 or 503
// (capped), else an exponential backoff with jitter.
func (r *Remote) retry(ctx context.Context, c call, attempt func(n int) (again bool, err error)) error {
	for n := 0; ; n++ {
		again, err := attempt(n)
		if err == nil || !again || n >= r.retries {
			var re *RemoteError
			if errors.As(err, &re) {
				re.Attempts = n + 1
			} else if err != nil && again {
				err = fmt.Errorf("%w (gave up after %d attempts)", err, n+1)
			}
			return err
		}
		wait := backoff(n)
		var re *RemoteError
		if errors.As(err, &re) && re.retryAfter > 0 {
			wait = re.retryAfter
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s %s: %w (while waiting to retry after: %v)", c.method, r.base+c.path, ctx.Err(), err)
		case <-t.C:
		}
	}
}

// backoff is the wait before retry n+1: exponential, with full jitter over
// its upper half so that clients that failed together do not retry together.
func backoff(n int) time.Duration {
	d := min(backoffBase<<n, backoffMax)
	return d/2 + rand.N(d/2+1)
}

// failed explains a request that got no answer and says whether to retry:
// a timeout or a network error is retried when the call is idempotent, or
// when nothing reached the server.
func (r *Remote) failed(ctx, actx context.Context, c call, err error) (bool, error) {
	where := c.method + " " + r.base + c.path
	switch {
	case ctx.Err() != nil:
		return false, fmt.Errorf("%s: %w", where, ctx.Err())
	case errors.Is(actx.Err(), context.DeadlineExceeded) || isTimeout(err):
		return c.idempotent(), unavailable("the remote library did not answer %s within %v", where, r.timeout)
	}
	var op *net.OpError
	dial := errors.As(err, &op) && op.Op == "dial"
	return c.idempotent() || dial, unavailable("could not reach the remote library at %s: %s", r.base, r.redact(unwrapURL(err).Error()))
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// unwrapURL drops the "Get <url>:" that net/http puts in front of errors:
// the message says where already.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// retryable says whether an answer is worth another attempt: 429 always
// (the request was not processed), 5xx when the call is idempotent.
func retryable(c call, resp *http.Response) bool {
	switch s := resp.StatusCode; {
	case s == http.StatusTooManyRequests:
		return true
	case s == http.StatusNotImplemented || s == http.StatusHTTPVersionNotSupported:
		return false
	case s >= 500:
		return c.idempotent()
	}
	return false
}

// answer turns a response that is not a success into the error it means.
func (r *Remote) answer(c call, resp *http.Response, raw []byte) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
		Field   string `json:"field"`
	}
	msg := ""
	if err := json.Unmarshal(raw, &e); err == nil && (e.Error != "" || e.Message != "") {
		msg = r.redact(cmpOr(e.Error, e.Message))
	} else if len(bytes.TrimSpace(raw)) > 0 {
		msg = "it answered something that is not JSON: " + r.quote(raw)
	}
	field := r.redact(e.Field)
	switch resp.StatusCode {
	case http.StatusNotFound:
		if c.what != "" {
			return fmt.Errorf("%s in the remote library: %w", c.what, models.ErrNotFound)
		}
	case http.StatusConflict:
		return &models.ConflictError{Field: field, Message: "the remote library refused the change: " + msg}
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return &models.ValidationError{Field: field, Message: strings.TrimPrefix(msg, field+": ")}
	}
	re := &RemoteError{Method: c.method, URL: r.base + c.path, Status: resp.StatusCode, Message: msg}
	if resp.StatusCode == http.StatusNotFound {
		re.Message = "check the address of the remote library"
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		re.retryAfter = retryAfter(resp.Header.Get("Retry-After"))
	}
	return re
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// retryAfter reads a Retry-After header (seconds or an HTTP date), capped.
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.Atoi(v); err == nil {
		d = time.Duration(max(secs, 0)) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = time.Until(t)
	}
	return min(max(d, 0), maxRetryAfter)
}

// notJSON is the error of a successful answer that cannot be read.
func (r *Remote) notJSON(raw []byte) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		return unavailable("the remote library answered with an empty body where JSON was expected")
	}
	return unavailable("the remote library answered something that is not JSON: %s", r.quote(raw))
}

// quote returns the start of a body, printable, on one line.
func (r *Remote) quote(raw []byte) string {
	s := strings.ToValidUTF8(string(raw[:min(len(raw), quoteBytes*2)]), "\uFFFD")
	s = strings.Join(strings.FieldsFunc(s, func(c rune) bool { return unicode.IsSpace(c) || !unicode.IsPrint(c) }), " ")
	if utf8.RuneCountInString(s) > quoteBytes {
		s = string([]rune(s)[:quoteBytes]) + "…"
	}
	return r.redact(s)
}

// redact removes the credentials from what the remote says, should it
// repeat them.
func (r *Remote) redact(s string) string {
	for _, secret := range []string{r.token, r.apiKey} {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}
