// Package webtest boots the real console on a random loopback port with a
// fresh database, and gives tests an HTTP client that signs in for real and
// a headless Chromium to drive it.
package webtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/labstack/echo/v4"

	"audiencebridge/audiencesync"
	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/models/dbtest"
	"audiencebridge/web"
	"audiencebridge/worker"
)

// Password is the password of every operator tests create.
const Password = "test-password-1"

// Server is a running console.
type Server struct {
	URL   string
	Store *models.Store
	Log   *strings.Builder
	// Clock is the server's time; tests move it forward to expire sessions.
	Clock *Clock
	// Sync is the sync engine, with the job engine set.
	Sync *audiencesync.Service
	// Library is the embedded audience library the console uses.
	Library *library.Embedded
	// Echo is the server's router, for tests that read its routes.
	Echo *echo.Echo
	http *httptest.Server
}

// Clock is a settable time source safe to share with the server's goroutines.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now is the real time plus every Advance so far.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().UTC().Add(c.offset)
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// Options change how the test server is built.
type Options struct {
	SessionPolicy models.SessionPolicy
	// TLS serves HTTPS with a test certificate.
	TLS bool
	// MaxUploadBytes overrides the upload limit.
	MaxUploadBytes int64
	// MetricsToken lets non-loopback scrapers read /metrics.
	MetricsToken string
	// AllowPrivateWebhooks lets webhooks call loopback addresses, where
	// httptest receivers listen (--allow-private-webhooks).
	AllowPrivateWebhooks bool
	// WebhookTimeout bounds a webhook call; 0 is the default.
	WebhookTimeout time.Duration
}

// Start boots a console on a fresh database.
func Start(t testing.TB, opts ...Options) *Server {
	t.Helper()
	store := dbtest.New(t)
	clock := &Clock{}
	store.Now = clock.Now
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	logs := &strings.Builder{}
	logger := slog.New(slog.NewTextHandler(&lockedWriter{b: logs}, nil))
	if err := worker.Migrate(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	secret := []byte("0123456789abcdef0123456789abcdef-test")
	embedded := library.NewEmbedded(store)
	syncer, err := audiencesync.New(store, secret, embedded, logger)
	if err != nil {
		t.Fatal(err)
	}
	syncer.Webhooks.AllowPrivate, syncer.WebhookTimeout = o.AllowPrivateWebhooks, o.WebhookTimeout
	metrics := web.NewMetrics(store)
	syncer.Observer = audiencesync.Observers{metrics, &audiencesync.Notifier{Service: syncer}}
	jobs, err := worker.NewStandard(store, syncer, worker.Options{Logger: logger, Work: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := jobs.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = jobs.Stop(ctx) // a test that closed the database cannot stop cleanly
	})
	e, err := web.New(web.Options{Store: store, SessionSecret: secret,
		SessionPolicy: o.SessionPolicy, Logger: logger, Jobs: jobs, MaxUploadBytes: o.MaxUploadBytes, Library: embedded, Sync: syncer, Metrics: metrics, MetricsToken: o.MetricsToken})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(e)
	if o.TLS {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return &Server{URL: srv.URL, Store: store, Log: logs, Clock: clock, http: srv, Sync: syncer, Library: embedded, Echo: e}
}

// Operator creates an operator whose password is Password.
func (s *Server) Operator(t testing.TB, login string, role models.Role, ents ...models.Entitlement) *models.Operator {
	t.Helper()
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = string(e)
	}
	op, err := s.Store.CreateOperator(context.Background(), models.SystemActor("test"),
		models.OperatorInput{Login: login, Role: string(role), Password: Password, Entitlements: names})
	if err != nil {
		t.Fatal(err)
	}
	return op
}

// Client is a browser-like HTTP client with its own cookies. It does not
// follow redirects, so tests see them.
type Client struct {
	t    testing.TB
	base string
	HTTP *http.Client
	// CSRF is the token of the last page that had one.
	CSRF string
}

// Client returns a new anonymous client.
func (s *Server) Client(t testing.TB) *Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Client{t: t, base: s.URL, HTTP: &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: s.http.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Response is an answer with its body read and parsed.
type Response struct {
	Status int
	Header http.Header
	Body   string
	Doc    *goquery.Document
}

// Location is the redirect target.
func (r *Response) Location() string { return r.Header.Get("Location") }

// Text is the trimmed text of the first element matching a selector.
func (r *Response) Text(sel string) string { return strings.TrimSpace(r.Doc.Find(sel).First().Text()) }

// Has reports whether an element matches a selector.
func (r *Response) Has(sel string) bool { return r.Doc.Find(sel).Length() > 0 }

// Do sends a request and reads the answer. An exchange with /api/v1 or
// /aam/v1 is checked against the API description (see checkAPI).
func (c *Client) Do(req *http.Request) *Response {
	c.t.Helper()
	resp, err := c.HTTP.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(string(body)))
	if err != nil {
		c.t.Fatal(err)
	}
	if tok, ok := doc.Find(`input[name="_csrf"]`).First().Attr("value"); ok {
		c.CSRF = tok
	}
	if describedPath(req.URL.Path) {
		c.checkAPI(req, resp.StatusCode, resp.Header, body)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: string(body), Doc: doc}
}

// Request builds a request to a path of the server.
func (c *Client) Request(method, path string, body io.Reader) *http.Request {
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	return req
}

// Get fetches a page.
func (c *Client) Get(path string) *Response { return c.Do(c.Request(http.MethodGet, path, nil)) }

// Post submits a form with the current CSRF token (unless the form has one).
func (c *Client) Post(path string, form url.Values) *Response {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["_csrf"]; !ok {
		form.Set("_csrf", c.CSRF)
	}
	req := c.Request(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.Do(req)
}

// HTMX submits a form the way htmx does: token in the header, HX headers set.
func (c *Client) HTMX(method, path, target string, form url.Values) *Response {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := c.Request(method, path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("HX-Request", "true")
	req.Header.Set("HX-Target", target)
	req.Header.Set("HX-Current-URL", c.base+"/admin/operators")
	req.Header.Set("X-CSRF-Token", c.CSRF)
	return c.Do(req)
}

// Login signs in through the form and fails the test when it does not work.
func (c *Client) Login(login, password string) {
	c.t.Helper()
	c.Get("/login")
	r := c.Post("/login", url.Values{"login": {login}, "password": {password}})
	if r.Status != http.StatusSeeOther {
		c.t.Fatalf("sign-in as %s: status %d: %s", login, r.Status, r.Text(".flash-error"))
	}
	c.Get("/") // picks up the new CSRF token
}

// SignedIn returns a client signed in as a new operator.
func (s *Server) SignedIn(t testing.TB, login string, role models.Role, ents ...models.Entitlement) (*Client, *models.Operator) {
	op := s.Operator(t, login, role, ents...)
	c := s.Client(t)
	c.Login(login, Password)
	return c, op
}

// lockedWriter lets the server's goroutines log into one builder.
type lockedWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// TableFragment parses an HTMX answer made of table rows: outside a table an
// HTML parser drops <tr> tags, so the body is parsed inside one.
func (r *Response) TableFragment() *goquery.Document {
	doc, err := goquery.NewDocumentFromReader(strings.NewReader("<table><tbody>" + r.Body + "</tbody></table>"))
	if err != nil {
		panic(err) // the HTML parser accepts any input
	}
	return doc
}

// Token creates an API token for an operator.
func (s *Server) Token(t testing.TB, op *models.Operator) string {
	t.Helper()
	token, _, err := s.Store.CreateAPIToken(context.Background(), models.SystemActor("test"), op.ID, "test token")
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// API sends a request to the API with a bearer token ("" sends none) and a
// body (a string is sent as is with contentType, anything else as JSON).
func (c *Client) API(method, path, token string, body any, contentType ...string) *Response {
	c.t.Helper()
	var rd io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
		if len(contentType) > 0 {
			ct = contentType[0]
		}
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req := c.Request(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return c.Do(req)
}

// JSON decodes the body into v, failing the test when it is not JSON.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.Body), v); err != nil {
		t.Fatalf("answer is not JSON (%v): %s", err, r.Body)
	}
}

// Upload posts a file the way the import form does: multipart, with the
// CSRF token in the action URL.
func (c *Client) Upload(path, field, fileName string, content []byte, extra map[string]string) *Response {
	c.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range extra {
		if err := mw.WriteField(k, v); err != nil {
			c.t.Fatal(err)
		}
	}
	fw, err := mw.CreateFormFile(field, fileName)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := fw.Write(content); err != nil {
		c.t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		c.t.Fatal(err)
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	req := c.Request(http.MethodPost, path+sep+"_csrf="+url.QueryEscape(c.CSRF), &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.Do(req)
}
