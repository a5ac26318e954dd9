package library_test

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"audiencebridge/library"
	"audiencebridge/library/librarytest"
	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

// remoteConsole starts a console and returns a Remote on its /aam/v1 API,
// as an operator with both library entitlements.
func remoteConsole(t *testing.T, cfg library.RemoteConfig) (*library.Remote, *webtest.Server) {
	t.Helper()
	srv := webtest.Start(t)
	op := srv.Operator(t, "root", models.RoleAdmin, models.AudienceLibrary, models.AAMAdmin)
	cfg.BaseURL, cfg.Token = srv.URL, srv.Token(t, op)
	lib, err := library.NewRemote(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return lib, srv
}

func TestRemoteLibraryContract(t *testing.T) {
	librarytest.Run(t, func(t *testing.T) library.Library {
		lib, _ := remoteConsole(t, library.RemoteConfig{APIKey: "key-1"})
		return lib
	})
}

func TestRemoteCheck(t *testing.T) {
	lib, srv := remoteConsole(t, library.RemoteConfig{})
	ctx := context.Background()
	got, err := lib.Check(ctx)
	if want := "reached " + srv.URL + "/aam/v1: 0 data sources, 0 segments"; err != nil || got != want {
		t.Fatalf("check = %q, %v; want %q", got, err, want)
	}
	ds, err := lib.CreateDataSource(ctx, library.DataSource{Name: "Web", IDType: library.Cookie})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lib.CreateSegment(ctx, library.SegmentInput{Name: "One", DataSourceID: ds.ID}); err != nil {
		t.Fatal(err)
	}
	if got, err := lib.Check(ctx); err != nil || !strings.HasSuffix(got, ": 1 data source, 1 segment") {
		t.Fatalf("check = %q, %v", got, err)
	}
	bad, err := library.NewRemote(library.RemoteConfig{BaseURL: srv.URL, Token: "wrong-token-123"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.Check(ctx)
	var re *library.RemoteError
	if !errors.As(err, &re) || re.Status != 401 || !strings.Contains(err.Error(), "refused the token or API key") ||
		strings.Contains(err.Error(), "wrong-token-123") {
		t.Fatalf("bad token = %v", err)
	}
}

func TestRemoteMembersTravel(t *testing.T) {
	lib, _ := remoteConsole(t, library.RemoteConfig{})
	ctx := context.Background()
	ds, err := lib.CreateDataSource(ctx, library.DataSource{Name: "CRM", IDType: library.CrossDevice})
	if err != nil {
		t.Fatal(err)
	}
	seg, err := lib.CreateSegment(ctx, library.SegmentInput{Name: "Customers", DataSourceID: ds.ID, IntegrationCode: "spring sale/2026"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := lib.SegmentByIntegrationCode(ctx, "spring sale/2026"); err != nil || got.SID != seg.SID {
		t.Fatalf("by an escaped code = %+v, %v", got, err)
	}
	// A value with a line break cannot travel as a line: it is refused here,
	// and the positions of the others stay right.
	res, err := lib.ReplaceMembers(ctx, seg.SID, library.Slice([]string{"C-1", "C-2\nC-3", "C:4", "  C-5  ", "", "C-6"}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 3 || res.Rejected != 2 || res.Size != 3 || len(res.Errors) != 2 ||
		res.Errors[0].Line != 2 || !strings.Contains(res.Errors[0].Reason, "line breaks") || res.Errors[1].Line != 3 {
		t.Fatalf("replace = %+v", res)
	}
	var got []string
	if err := lib.Members(ctx, seg.SID, func(b []string) error { got = append(got, b...); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"C-1", "C-5", "C-6"}) {
		t.Fatalf("members = %q", got)
	}
	// A failing source fails the change, and the remote applies nothing.
	failing := &failAfter{n: 2, err: errors.New("the database went away")}
	if _, err := lib.AddMembers(ctx, seg.SID, failing); err == nil || !strings.Contains(err.Error(), "the database went away") {
		t.Fatalf("failing source = %v", err)
	}
	if s, err := lib.Segment(ctx, seg.SID); err != nil || s.Size != 3 {
		t.Fatalf("after a failed source: %+v, %v", s, err)
	}
}

type failAfter struct {
	n   int
	err error
}

func (f *failAfter) Next() (string, error) {
	if f.n == 0 {
		return "", f.err
	}
	f.n--
	return fmt.Sprintf("X-%d", f.n), nil
}

func TestNewRemoteChecksItsConfiguration(t *testing.T) {
	for _, tc := range []struct {
		cfg   library.RemoteConfig
		field string
	}{
		{library.RemoteConfig{Token: "t"}, "baseUrl"},
		{library.RemoteConfig{BaseURL: "ftp://example.com", Token: "t"}, "baseUrl"},
		{library.RemoteConfig{BaseURL: "example.com/aam/v1", Token: "t"}, "baseUrl"},
		{library.RemoteConfig{BaseURL: "https://", Token: "t"}, "baseUrl"},
		{library.RemoteConfig{BaseURL: "https://user:secret@example.com", Token: "t"}, "baseUrl"},
		{library.RemoteConfig{BaseURL: "https://example.com/?x=1", Token: "t"}, "baseUrl"},
		{library.RemoteConfig{BaseURL: "https://example.com"}, "token"},
		{library.RemoteConfig{BaseURL: "https://example.com", Token: "two words"}, "token"},
		{library.RemoteConfig{BaseURL: "https://example.com", Token: "t", APIKey: "k\r\nX-Evil: 1"}, "apiKey"},
		{library.RemoteConfig{BaseURL: "https://example.com", Token: "t", Timeout: -time.Second}, "timeout"},
	} {
		_, err := library.NewRemote(tc.cfg)
		var v *models.ValidationError
		if !errors.As(err, &v) || v.Field != tc.field {
			t.Errorf("%+v = %v, want a problem with %s", tc.cfg, err, tc.field)
		}
	}
	for in, want := range map[string]string{
		"https://example.com":               "https://example.com/aam/v1",
		"https://example.com/":              "https://example.com/aam/v1",
		"http://10.0.0.1:8080/aam/v1/":      "http://10.0.0.1:8080/aam/v1",
		"https://example.com/audiences/v1/": "https://example.com/audiences/v1",
	} {
		r, err := library.NewRemote(library.RemoteConfig{BaseURL: in, Token: "t"})
		if err != nil || r.BaseURL() != want {
			t.Errorf("%s = %v, %v; want %s", in, r, err, want)
		}
	}
}

// fake serves answers in turn (the last one again and again), counting the
// requests and checking the credentials.
type fake struct {
	t       *testing.T
	calls   atomic.Int32
	answers []func(w http.ResponseWriter, r *http.Request)
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(f.calls.Add(1)) - 1
	if r.Header.Get("Authorization") != "Bearer tok-secret" || r.Header.Get("x-api-key") != "key-secret" {
		f.t.Errorf("credentials = %q, %q", r.Header.Get("Authorization"), r.Header.Get("x-api-key"))
	}
	f.answers[min(n, len(f.answers)-1)](w, r)
}

func status(code int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

const segmentJSON = `{"sid":5,"name":"Loyal","description":"","integrationCode":"","dataSourceId":1,"status":"ACTIVE",
	"source":"Campaign","author":"x","size":3,"createTime":1700000000000,"updateTime":1700000001000}`

func fakeRemote(t *testing.T, cfg library.RemoteConfig, answers ...func(http.ResponseWriter, *http.Request)) (*library.Remote, *fake) {
	t.Helper()
	f := &fake{t: t, answers: answers}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg.BaseURL, cfg.Token, cfg.APIKey = srv.URL, "tok-secret", "key-secret"
	lib, err := library.NewRemote(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return lib, f
}

func noSecrets(t *testing.T, err error) {
	t.Helper()
	if err != nil && (strings.Contains(err.Error(), "tok-secret") || strings.Contains(err.Error(), "key-secret")) {
		t.Errorf("the error repeats a credential: %v", err)
	}
}

func TestRemoteRetriesA500(t *testing.T) {
	lib, f := fakeRemote(t, library.RemoteConfig{}, status(500, `{"error":"boom"}`), status(200, segmentJSON))
	seg, err := lib.Segment(context.Background(), 5)
	if err != nil || seg.Name != "Loyal" || seg.Size != 3 || !seg.CreateTime.Equal(time.UnixMilli(1700000000000)) || f.calls.Load() != 2 {
		t.Fatalf("= %+v, %v after %d calls", seg, err, f.calls.Load())
	}
}

func TestRemoteWaitsForRetryAfter(t *testing.T) {
	lib, f := fakeRemote(t, library.RemoteConfig{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		status(429, `{"error":"slow down"}`)(w, r)
	}, status(200, segmentJSON))
	start := time.Now()
	seg, err := lib.Segment(context.Background(), 5)
	if err != nil || seg.SID != 5 || f.calls.Load() != 2 {
		t.Fatalf("= %+v, %v after %d calls", seg, err, f.calls.Load())
	}
	if waited := time.Since(start); waited < 950*time.Millisecond || waited > 3*time.Second {
		t.Fatalf("waited %v for Retry-After: 1", waited)
	}
}

func TestRemoteGivesUpOnA503(t *testing.T) {
	lib, f := fakeRemote(t, library.RemoteConfig{}, status(503, `{"error":"the library is being upgraded"}`))
	start := time.Now()
	_, err := lib.Segments(context.Background(), library.Query{})
	var re *library.RemoteError
	if !errors.As(err, &re) || re.Status != 503 || re.Attempts != 4 || f.calls.Load() != 4 {
		t.Fatalf("= %v after %d calls", err, f.calls.Load())
	}
	want := "the remote library answered GET " + strings.TrimSuffix(lib.BaseURL(), "") + "/segments with 503 Service Unavailable: " +
		"the library is being upgraded (gave up after 4 attempts)"
	if err.Error() != want {
		t.Fatalf("error = %q\nwant    %q", err, want)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("took %v", d)
	}
	noSecrets(t, err)
}

func TestRemoteTimesOut(t *testing.T) {
	slow := func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}
	lib, f := fakeRemote(t, library.RemoteConfig{Timeout: 200 * time.Millisecond, MaxRetries: 1}, slow)
	start := time.Now()
	_, err := lib.Segment(context.Background(), 5)
	if err == nil || !strings.Contains(err.Error(), "did not answer GET") || !strings.Contains(err.Error(), "within 200ms") ||
		!strings.Contains(err.Error(), "gave up after 2 attempts") || f.calls.Load() != 2 {
		t.Fatalf("= %v after %d calls", err, f.calls.Load())
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v", d)
	}
	// A member change is bounded the same way once its body is sent.
	start = time.Now()
	_, err = lib.AddMembers(context.Background(), 5, library.Slice([]string{"a", "b"}))
	if err == nil || !strings.Contains(err.Error(), "did not answer POST") || !strings.Contains(err.Error(), "within 200ms of the end of its 2 members") ||
		time.Since(start) > 2*time.Second {
		t.Fatalf("member change = %v after %v", err, time.Since(start))
	}
	// A remote that stops taking the body is a stall.
	release := make(chan struct{})
	stuck, _ := fakeRemote(t, library.RemoteConfig{Timeout: 200 * time.Millisecond, MaxRetries: 1}, func(w http.ResponseWriter, r *http.Request) {
		<-release // a server that reads no body never learns that the client left
	})
	t.Cleanup(func() { close(release) }) // before the server closes
	start = time.Now()
	_, err = stuck.ReplaceMembers(context.Background(), 5, &randomECIDs{n: 1_000_000})
	if err == nil || !strings.Contains(err.Error(), "took no data and gave no answer for 200ms during PUT") ||
		!strings.Contains(err.Error(), "gave up after 2 attempts") || time.Since(start) > 5*time.Second {
		t.Fatalf("stuck member change = %v after %v", err, time.Since(start))
	}
	// The caller's context wins over the retries.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := lib.Segment(ctx, 5); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled = %v", err)
	}
}

func TestRemoteRefusesGarbage(t *testing.T) {
	lib, _ := fakeRemote(t, library.RemoteConfig{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html>\n<body>Welcome to nginx!</body></html>"+strings.Repeat(" filler", 100))
	})
	_, err := lib.Segment(context.Background(), 5)
	if err == nil || !strings.HasPrefix(err.Error(), "the remote library answered something that is not JSON: <html> <body>Welcome to nginx!</body></html> filler") ||
		!strings.HasSuffix(err.Error(), "…") || len(err.Error()) > 300 {
		t.Fatalf("= %v", err)
	}
	lib, _ = fakeRemote(t, library.RemoteConfig{}, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(502)
		io.WriteString(w, "<h1>Bad Gateway</h1>")
	})
	_, err = lib.Segment(context.Background(), 5)
	if err == nil || !strings.Contains(err.Error(), "502 Bad Gateway: it answered something that is not JSON: <h1>Bad Gateway</h1>") {
		t.Fatalf("= %v", err)
	}
}

func TestRemoteDoesNotRetryA401(t *testing.T) {
	lib, f := fakeRemote(t, library.RemoteConfig{}, status(401, `{"error":"this API token tok-secret is revoked"}`))
	_, err := lib.DataSources(context.Background())
	var re *library.RemoteError
	if !errors.As(err, &re) || re.Status != 401 || f.calls.Load() != 1 ||
		!strings.Contains(err.Error(), "the remote library refused the token or API key") || !strings.Contains(err.Error(), "[redacted] is revoked") {
		t.Fatalf("= %v after %d calls", err, f.calls.Load())
	}
	noSecrets(t, err)
}

func TestRemoteMapsRefusals(t *testing.T) {
	lib, _ := fakeRemote(t, library.RemoteConfig{},
		status(404, `{"error":"This segment 5 does not exist, or no longer does."}`),
		status(409, `{"error":"another segment has the integration code \"x\"","field":"integrationCode"}`),
		status(400, `{"error":"name: enter a name","field":"name"}`),
		status(404, `<html>no such page</html>`))
	ctx := context.Background()
	if _, err := lib.Segment(ctx, 5); !errors.Is(err, models.ErrNotFound) || err.Error() != "segment 5 in the remote library: not found" {
		t.Fatalf("404 = %v", err)
	}
	var conflict *models.ConflictError
	if _, err := lib.CreateSegment(ctx, library.SegmentInput{Name: "x"}); !errors.As(err, &conflict) || conflict.Field != "integrationCode" ||
		!strings.Contains(conflict.Message, "another segment has") {
		t.Fatalf("409 = %v", err)
	}
	var invalid *models.ValidationError
	if _, err := lib.CreateSegment(ctx, library.SegmentInput{}); !errors.As(err, &invalid) || invalid.Field != "name" || invalid.Error() != "name: enter a name" {
		t.Fatalf("400 = %v", err)
	}
	// A 404 on a list means the address is wrong, not that nothing exists.
	if _, err := lib.Segments(ctx, library.Query{}); errors.Is(err, models.ErrNotFound) || !strings.Contains(err.Error(), "check the address") {
		t.Fatalf("404 on a list = %v", err)
	}
}

func TestRemoteDoesNotRetryACreation(t *testing.T) {
	lib, f := fakeRemote(t, library.RemoteConfig{}, status(500, `{"error":"boom"}`), status(201, segmentJSON))
	if _, err := lib.CreateSegment(context.Background(), library.SegmentInput{Name: "x"}); err == nil || f.calls.Load() != 1 {
		t.Fatalf("= %v after %d calls", err, f.calls.Load())
	}
}

func TestRemoteRetriesAMemberChangeWithTheWholeBody(t *testing.T) {
	var bodies [][]string
	read := func(r *http.Request) []string {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Errorf("body is not gzip: %v", err)
			return nil
		}
		var lines []string
		sc := bufio.NewScanner(zr)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		return lines
	}
	lib, f := fakeRemote(t, library.RemoteConfig{},
		func(w http.ResponseWriter, r *http.Request) {
			bodies = append(bodies, read(r))
			status(503, `{"error":"busy"}`)(w, r)
		},
		func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPut || r.Header.Get("Content-Type") != "text/plain; charset=utf-8" || r.Header.Get("Content-Encoding") != "gzip" {
				t.Errorf("request = %s %v", r.Method, r.Header)
			}
			bodies = append(bodies, read(r))
			status(200, `{"accepted":3000,"rejected":1,"errors":[{"line":7,"reason":"bad"}],"size":3000}`)(w, r)
		})
	var ids []string
	for i := range 3001 {
		ids = append(ids, librarytest.ECID(i))
	}
	res, err := lib.ReplaceMembers(context.Background(), 5, library.Slice(ids))
	if err != nil || res.Accepted != 3000 || res.Errors[0].Line != 7 || f.calls.Load() != 2 {
		t.Fatalf("= %+v, %v after %d calls", res, err, f.calls.Load())
	}
	if len(bodies) != 2 || !slices.Equal(bodies[0], ids) || !slices.Equal(bodies[1], ids) {
		t.Fatalf("bodies of %d and %d lines", len(bodies[0]), len(bodies[len(bodies)-1]))
	}
}

// TestRemoteReplacesAMillionMembers measures a replacement of 1,000,000
// visitor IDs through the API; AB_TEST_MILLION=1 runs it.
func TestRemoteReplacesAMillionMembers(t *testing.T) {
	if os.Getenv("AB_TEST_MILLION") == "" {
		t.Skip("set AB_TEST_MILLION=1 to measure a replacement of a million members")
	}
	lib, _ := remoteConsole(t, library.RemoteConfig{})
	ctx := context.Background()
	ds, err := lib.CreateDataSource(ctx, library.DataSource{Name: "Web", IDType: library.Cookie})
	if err != nil {
		t.Fatal(err)
	}
	seg, err := lib.CreateSegment(ctx, library.SegmentInput{Name: "Everyone", DataSourceID: ds.ID})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := lib.ReplaceMembers(ctx, seg.SID, &randomECIDs{n: 1_000_000})
	if err != nil || res.Size != 1_000_000 {
		t.Fatalf("replace = %+v, %v", res.Size, err)
	}
	t.Logf("replace of 1,000,000 members: %v", time.Since(start))
	start = time.Now()
	n := 0
	if err := lib.Members(ctx, seg.SID, func(b []string) error { n += len(b); return nil }); err != nil || n != 1_000_000 {
		t.Fatalf("members = %d, %v", n, err)
	}
	t.Logf("reading 1,000,000 members: %v", time.Since(start))
}

// TestRemoteStreamsAMillionMembers measures the client and the transport
// alone: a remote that only counts the lines.
func TestRemoteStreamsAMillionMembers(t *testing.T) {
	if os.Getenv("AB_TEST_MILLION") == "" {
		t.Skip("set AB_TEST_MILLION=1 to measure the streaming of a million members")
	}
	var wire atomic.Int64
	lib, _ := fakeRemote(t, library.RemoteConfig{}, func(w http.ResponseWriter, r *http.Request) {
		zr, err := gzip.NewReader(&counter{r: r.Body, n: &wire})
		if err != nil {
			t.Error(err)
			return
		}
		n := 0
		for sc := bufio.NewScanner(zr); sc.Scan(); n++ {
		}
		status(200, fmt.Sprintf(`{"accepted":%d,"rejected":0,"errors":[],"size":%d}`, n, n))(w, r)
	})
	start := time.Now()
	res, err := lib.ReplaceMembers(context.Background(), 1, &randomECIDs{n: 1_000_000})
	if err != nil || res.Size != 1_000_000 {
		t.Fatalf("replace = %+v, %v", res.Size, err)
	}
	t.Logf("streaming 1,000,000 members: %v, %.1f MB on the wire", time.Since(start), float64(wire.Load())/1e6)
}

type counter struct {
	r io.Reader
	n *atomic.Int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// randomECIDs yields n random visitor IDs, distinct in practice.
type randomECIDs struct {
	n int
	x uint64
}

func (r *randomECIDs) Next() (string, error) {
	if r.n == 0 {
		return "", io.EOF
	}
	r.n--
	r.x += 0x9E3779B97F4A7C15
	a, b := r.x*0xBF58476D1CE4E5B9, r.x^(r.x>>31)*0x94D049BB133111EB
	return fmt.Sprintf("%019d%019d", a%1e19, b%1e19), nil
}
