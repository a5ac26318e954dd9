package library

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxMemberBytes is the longest value sent as a member: far longer than any
// identifier (declared IDs have at most 255 bytes), far shorter than the
// remote's line limit.
const maxMemberBytes = 64 << 10

// errStalled cancels a member change that stopped moving.
var errStalled = errors.New("the transfer stalled")

// errAbandoned stops the writing of a body whose answer has come.
var errAbandoned = errors.New("the answer came before the end of the body")

// membersPage is the answer of GET /segments/:sid/members.
type membersPage struct {
	Members []string `json:"members"`
	Next    string   `json:"next"`
}

func (r *Remote) membersPage(ctx context.Context, sid int64, after string, limit int) (membersPage, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if after != "" {
		q.Set("after", after)
	}
	var p membersPage
	err := r.do(ctx, call{method: http.MethodGet, path: sidPath(sid) + "/members", query: q, what: sidWhat(sid)}, &p)
	return p, err
}

// MembersAfter returns up to limit members of a segment that sort after
// `after`, with the API's keyset extension (GET /segments/:sid/members).
func (r *Remote) MembersAfter(ctx context.Context, sid int64, after string, limit int) ([]string, error) {
	p, err := r.membersPage(ctx, sid, after, limit)
	return p.Members, err
}

// Members streams a segment's members a page at a time, in the remote's
// identifier order.
func (r *Remote) Members(ctx context.Context, sid int64, fn func([]string) error) error {
	after := ""
	for {
		p, err := r.membersPage(ctx, sid, after, MemberBatchSize)
		if err != nil {
			return err
		}
		for batch := range slices.Chunk(p.Members, MemberBatchSize) {
			if err := fn(batch); err != nil {
				return err
			}
		}
		if p.Next == "" || len(p.Members) == 0 {
			return nil
		}
		after = p.Next
	}
}

// ReplaceMembers makes src the segment's members with PUT, in one request:
// the remote swaps them in atomically.
func (r *Remote) ReplaceMembers(ctx context.Context, sid int64, src MemberSource) (MemberResult, error) {
	return r.changeMembers(ctx, http.MethodPut, sid, src)
}

// AddMembers adds members with POST.
func (r *Remote) AddMembers(ctx context.Context, sid int64, src MemberSource) (MemberResult, error) {
	return r.changeMembers(ctx, http.MethodPost, sid, src)
}

// RemoveMembers removes members with DELETE.
func (r *Remote) RemoveMembers(ctx context.Context, sid int64, src MemberSource) (MemberResult, error) {
	return r.changeMembers(ctx, http.MethodDelete, sid, src)
}

// changeMembers streams src as the body of one request: one identifier a
// line, gzip-encoded, through a pipe, so memory stays bounded whatever the
// size. The three changes are idempotent, so a failed attempt is sent
// again; the values read so far are spooled to a temporary file for that.
func (r *Remote) changeMembers(ctx context.Context, method string, sid int64, src MemberSource) (MemberResult, error) {
	sp := newMemberSpool(src, r.retries > 0)
	defer sp.close()
	c := call{method: method, path: sidPath(sid) + "/members", what: sidWhat(sid)}
	var res MemberResult
	err := r.retry(ctx, c, func(attempt int) (bool, error) {
		again, err := r.sendMembers(ctx, c, sp, &res)
		return again && sp.replayable(), err
	})
	if err != nil {
		return MemberResult{}, err
	}
	return sp.merge(res), nil
}

// sendMembers makes one attempt. The timeout bounds a stall, not the whole
// transfer: the attempt fails when neither the source nor the remote has
// moved for that long, or when the remote has not answered that long after
// the end of the body.
func (r *Remote) sendMembers(ctx context.Context, c call, sp *memberSpool, res *MemberResult) (bool, error) {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := time.AfterFunc(r.timeout, func() { cancel(errStalled) })
	defer stall.Stop()
	var (
		mu        sync.Mutex // the body's writer and the transport both report progress
		answering bool       // the whole body is sent
	)
	moved := func() {
		mu.Lock()
		if !answering {
			stall.Reset(r.timeout)
		}
		mu.Unlock()
	}
	sent := func() {
		mu.Lock()
		answering = true
		stall.Reset(r.answerBudget(sp.read))
		mu.Unlock()
	}
	sp.progress = moved

	pr, pw := io.Pipe()
	produced := make(chan error, 1)
	go func() {
		zw, err := gzip.NewWriterLevel(pw, gzip.BestSpeed)
		if err == nil {
			if err = sp.writeTo(zw); err == nil {
				err = zw.Close()
			}
		}
		pw.CloseWithError(err) // nil ends the body
		produced <- err
	}()
	req, err := http.NewRequestWithContext(actx, c.method, r.base+c.path, &progressReader{r: pr, moved: moved, sent: sent})
	if err != nil {
		pr.CloseWithError(err)
		<-produced
		return false, fmt.Errorf("build the request to the remote library: %w", err)
	}
	req.ContentLength = -1 // streamed
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("Content-Encoding", "gzip")
	resp, raw, err := r.send(req)
	pr.CloseWithError(errAbandoned)
	var se *sourceError
	if perr := <-produced; errors.As(perr, &se) {
		return false, se.err // the remote got a cut body and applies nothing
	}
	if err != nil {
		if errors.Is(context.Cause(actx), errStalled) {
			mu.Lock()
			defer mu.Unlock()
			if answering {
				// It is still at work on the members: sending them again would
				// only add to its load.
				return false, fmt.Errorf("the remote library did not answer %s %s within %v of the end of its %d members",
					c.method, r.base+c.path, r.answerBudget(sp.read), sp.read)
			}
			return true, fmt.Errorf("the remote library took no data and gave no answer for %v during %s %s", r.timeout, c.method, r.base+c.path)
		}
		return r.failed(ctx, actx, c, err)
	}
	if err := r.answer(c, resp, raw); err != nil {
		return retryable(c, resp), err
	}
	*res = MemberResult{}
	if err := json.Unmarshal(raw, res); err != nil {
		return false, r.notJSON(raw)
	}
	return false, nil
}

// answerBudget is how long a member change may wait for its answer once the
// body is sent: the remote applies the members then (a million visitor IDs
// take the embedded library a minute or more on SQLite), so the timeout
// grows with them, by one more for every 100,000 members.
func (r *Remote) answerBudget(members int) time.Duration {
	return r.timeout * time.Duration(1+members/100_000)
}

// progressReader tells of every read of the body, and of its end.
type progressReader struct {
	r     io.Reader
	moved func()
	sent  func()
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if errors.Is(err, io.EOF) {
		p.sent()
	} else {
		p.moved()
	}
	return n, err
}

// sourceError is a failure of the MemberSource, not of the transfer.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }

// memberSpool turns a MemberSource into the lines of a body, as many times
// as attempts need: the values read are kept in a temporary file, so a
// retry sends them again and then goes on with the source.
type memberSpool struct {
	src       MemberSource
	file      *os.File // nil when there is none: no replay once read
	fw        *bufio.Writer
	size      int64
	exhausted bool
	read      int // values read from src, the line number of the last one
	rejected  int
	errors    []LineError
	progress  func()
}

func newMemberSpool(src MemberSource, replay bool) *memberSpool {
	s := &memberSpool{src: src}
	if replay {
		// Without a temporary file the change is still sent, once.
		if f, err := os.CreateTemp("", "audiencebridge-members-*"); err == nil {
			s.file, s.fw = f, bufio.NewWriterSize(f, 64<<10)
		}
	}
	return s
}

// replayable says whether another attempt can send the same body.
func (s *memberSpool) replayable() bool { return s.file != nil || s.read == 0 }

func (s *memberSpool) close() {
	if s.file != nil {
		name := s.file.Name()
		s.file.Close()
		os.Remove(name)
		s.file = nil
	}
}

// dropSpool gives up the file after a write error.
func (s *memberSpool) dropSpool() {
	s.close()
	s.fw = nil
}

// writeTo writes the whole body: the lines read by earlier attempts, then
// the rest of the source.
func (s *memberSpool) writeTo(w io.Writer) error {
	if s.size > 0 && s.file != nil {
		if err := s.fw.Flush(); err != nil {
			s.dropSpool()
			return fmt.Errorf("spool members: %w", err)
		}
		if _, err := io.Copy(w, io.NewSectionReader(s.file, 0, s.size)); err != nil {
			return err
		}
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	for !s.exhausted {
		v, err := s.src.Next()
		if s.progress != nil {
			s.progress()
		}
		if errors.Is(err, io.EOF) {
			s.exhausted = true
			break
		}
		if err != nil {
			return &sourceError{err: fmt.Errorf("read member %d: %w", s.read+1, err)}
		}
		s.read++
		v = s.check(v)
		if s.file != nil {
			n, err := s.fw.WriteString(v)
			if err == nil {
				err = s.fw.WriteByte('\n')
			}
			if err != nil {
				s.dropSpool()
			} else {
				s.size += int64(n) + 1
			}
		}
		if _, err := bw.WriteString(v); err != nil {
			return err
		}
		if err := bw.WriteByte('\n'); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// check refuses a value that would not travel as one line; it is sent as a
// blank line, which keeps the positions of the ones after it.
func (s *memberSpool) check(v string) string {
	switch {
	case strings.ContainsAny(v, "\r\n"):
		s.reject("an identifier must not contain line breaks")
		return ""
	case len(v) > maxMemberBytes:
		s.reject(fmt.Sprintf("an identifier of %d bytes is longer than any identifier", len(v)))
		return ""
	}
	return v
}

func (s *memberSpool) reject(reason string) {
	s.rejected++
	if len(s.errors) < MaxLineErrors {
		s.errors = append(s.errors, LineError{Line: s.read, Reason: reason})
	}
}

// merge adds the values refused here to the remote's answer, in order.
func (s *memberSpool) merge(res MemberResult) MemberResult {
	if res.Errors == nil {
		res.Errors = []LineError{}
	}
	if s.rejected == 0 {
		return res
	}
	res.Rejected += s.rejected
	res.Errors = append(res.Errors, s.errors...)
	slices.SortStableFunc(res.Errors, func(a, b LineError) int { return a.Line - b.Line })
	res.Errors = res.Errors[:min(len(res.Errors), MaxLineErrors)]
	return res
}
