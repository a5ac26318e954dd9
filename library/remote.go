package library

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"audiencebridge/models"
)

// Defaults of a remote library connection.
const (
	// DefaultRemoteTimeout bounds each request. A member change, which may
	// stream a million identifiers, is bounded by it as a stall: it fails
	// when the remote takes no data for that long, or gives no answer within
	// that long plus as long again for every 100,000 members sent.
	DefaultRemoteTimeout = 15 * time.Second
	// DefaultRemoteRetries is how many times a failed request is retried.
	DefaultRemoteRetries = 3
)

// RemoteConfig says where a remote Audience-Manager-shaped library is and
// how to talk to it.
type RemoteConfig struct {
	// BaseURL is the root of the API, e.g. https://library.example.com/aam/v1;
	// a bare https://library.example.com means /aam/v1 on it, the console's
	// own layout.
	BaseURL string
	// Token is sent as "Authorization: Bearer <token>".
	Token string
	// APIKey, when set, is sent as the x-api-key header.
	APIKey string
	// Timeout bounds each request; 0 is DefaultRemoteTimeout.
	Timeout time.Duration
	// MaxRetries is how many times a request that failed for a passing
	// reason (429, 5xx, a network error) is retried; 0 is
	// DefaultRemoteRetries, a negative number none.
	MaxRetries int
	// HTTPClient sends the requests; nil is a client of its own.
	HTTPClient *http.Client
}

// Remote is a library.Library over a remote /aam/v1 API, such as another
// console's embedded library. It never logs, and never repeats its token or
// API key in an error.
type Remote struct {
	base    string // the API root, without a trailing slash
	token   string
	apiKey  string
	timeout time.Duration
	retries int
	client  *http.Client
}

var _ Library = (*Remote)(nil)

// NewRemote checks a configuration and returns a client for it. Problems
// are *models.ValidationError naming the field (baseUrl, token, apiKey,
// timeout).
func NewRemote(cfg RemoteConfig) (*Remote, error) {
	raw := strings.TrimSpace(cfg.BaseURL)
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return nil, models.Invalid("baseUrl", "enter the address of the remote library, such as https://library.example.com/aam/v1")
	case err != nil:
		return nil, models.Invalid("baseUrl", "%q is not an address: %v", raw, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, models.Invalid("baseUrl", "the address must start with https:// (or http://), not %q", raw)
	case u.Host == "" || u.Hostname() == "":
		return nil, models.Invalid("baseUrl", "the address %q names no server", raw)
	case u.User != nil:
		return nil, models.Invalid("baseUrl", "leave credentials out of the address: enter the token in its own field")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return nil, models.Invalid("baseUrl", "the address of the library takes no query string or fragment")
	}
	path := strings.TrimRight(u.EscapedPath(), "/")
	if path == "" {
		path = "/aam/v1"
	}
	token := strings.TrimSpace(cfg.Token)
	switch {
	case token == "":
		return nil, models.Invalid("token", "enter the API token the remote library gave you")
	case !headerSafe(token):
		return nil, models.Invalid("token", "a token has no spaces or control characters: paste it again")
	case !headerSafe(strings.TrimSpace(cfg.APIKey)) && strings.TrimSpace(cfg.APIKey) != "":
		return nil, models.Invalid("apiKey", "an API key has no spaces or control characters: paste it again")
	case cfg.Timeout < 0:
		return nil, models.Invalid("timeout", "must not be negative")
	}
	r := &Remote{base: u.Scheme + "://" + u.Host + path, token: token, apiKey: strings.TrimSpace(cfg.APIKey),
		timeout: cfg.Timeout, retries: cfg.MaxRetries, client: cfg.HTTPClient}
	if r.timeout == 0 {
		r.timeout = DefaultRemoteTimeout
	}
	switch {
	case r.retries == 0:
		r.retries = DefaultRemoteRetries
	case r.retries < 0:
		r.retries = 0
	}
	if r.client == nil {
		r.client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return r, nil
}

func headerSafe(s string) bool {
	for _, c := range s {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// BaseURL is the root of the remote API the client talks to.
func (r *Remote) BaseURL() string { return r.base }

// Check reaches the remote library and says what it found in one sentence,
// for a Test connection button.
func (r *Remote) Check(ctx context.Context) (string, error) {
	var ds, segs pageHead
	if err := r.do(ctx, call{method: http.MethodGet, path: "/datasources", query: url.Values{"pageSize": {"1"}}}, &ds); err != nil {
		return "", err
	}
	if err := r.do(ctx, call{method: http.MethodGet, path: "/segments", query: url.Values{"pageSize": {"1"}}}, &segs); err != nil {
		return "", err
	}
	return fmt.Sprintf("reached %s: %s, %s", r.base, count(ds.Total, "data source"), count(segs.Total, "segment")), nil
}

func count(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.FormatInt(n, 10) + " " + what + "s"
}

// pageHead is the head of a paged answer.
type pageHead struct {
	Total    int64 `json:"total"`
	Page     int   `json:"page"`
	PageSize int   `json:"pageSize"`
}

type remoteDataSources struct {
	pageHead
	List []DataSource `json:"list"`
}

// DataSources lists the remote library's data sources, every page of them.
func (r *Remote) DataSources(ctx context.Context) ([]DataSource, error) {
	var out []DataSource
	for page := 0; ; page++ {
		var p remoteDataSources
		q := url.Values{"page": {strconv.Itoa(page)}, "pageSize": {strconv.Itoa(models.MaxPageSize)}}
		if err := r.do(ctx, call{method: http.MethodGet, path: "/datasources", query: q}, &p); err != nil {
			return nil, err
		}
		out = append(out, p.List...)
		if len(p.List) == 0 || int64(len(out)) >= p.Total {
			return out, nil
		}
	}
}

// DataSource loads one data source.
func (r *Remote) DataSource(ctx context.Context, id int64) (DataSource, error) {
	var ds DataSource
	err := r.do(ctx, call{method: http.MethodGet, path: "/datasources/" + strconv.FormatInt(id, 10), what: fmt.Sprintf("library data source %d", id)}, &ds)
	return ds, err
}

// CreateDataSource adds a data source; an ID of 0 gets the next free one.
func (r *Remote) CreateDataSource(ctx context.Context, ds DataSource) (DataSource, error) {
	var out DataSource
	err := r.do(ctx, call{method: http.MethodPost, path: "/datasources", body: ds}, &out)
	return out, err
}

// remoteSegmentInput is the body of POST and PUT /segments.
type remoteSegmentInput struct {
	Name            string `json:"name"`
	Description     string `json:"description"`
	IntegrationCode string `json:"integrationCode"`
	DataSourceID    int64  `json:"dataSourceId"`
	Status          string `json:"status"`
	Source          string `json:"source"`
	Author          string `json:"author"`
}

func segmentBody(in SegmentInput) remoteSegmentInput {
	return remoteSegmentInput{Name: in.Name, Description: in.Description, IntegrationCode: in.IntegrationCode, DataSourceID: in.DataSourceID,
		Status: in.Status, Source: in.Source, Author: in.Author}
}

// Segments returns one page of segments.
func (r *Remote) Segments(ctx context.Context, q Query) (SegmentPage, error) {
	v := url.Values{"page": {strconv.Itoa(q.Page)}}
	if q.PageSize > 0 {
		v.Set("pageSize", strconv.Itoa(q.PageSize))
	}
	if q.SortBy != "" {
		v.Set("sortBy", q.SortBy)
		v.Set("descending", strconv.FormatBool(q.Descending))
	}
	if q.Search != "" {
		v.Set("search", q.Search)
	}
	if q.DataSourceID != 0 {
		v.Set("dataSourceId", strconv.FormatInt(q.DataSourceID, 10))
	}
	var p struct {
		pageHead
		List []WireSegment `json:"list"`
	}
	if err := r.do(ctx, call{method: http.MethodGet, path: "/segments", query: v}, &p); err != nil {
		return SegmentPage{}, err
	}
	out := SegmentPage{Total: p.Total, Page: p.Page, PageSize: p.PageSize, List: make([]Segment, len(p.List))}
	for i, s := range p.List {
		out.List[i] = s.Segment()
	}
	return out, nil
}

func (r *Remote) segmentCall(ctx context.Context, c call) (Segment, error) {
	var s WireSegment
	if err := r.do(ctx, c, &s); err != nil {
		return Segment{}, err
	}
	return s.Segment(), nil
}

func sidPath(sid int64) string { return "/segments/" + strconv.FormatInt(sid, 10) }

func sidWhat(sid int64) string { return fmt.Sprintf("segment %d", sid) }

// Segment loads one segment.
func (r *Remote) Segment(ctx context.Context, sid int64) (Segment, error) {
	return r.segmentCall(ctx, call{method: http.MethodGet, path: sidPath(sid), what: sidWhat(sid)})
}

// SegmentByIntegrationCode loads a segment by its integration code.
func (r *Remote) SegmentByIntegrationCode(ctx context.Context, code string) (Segment, error) {
	return r.segmentCall(ctx, call{method: http.MethodGet, path: "/segments/ic:" + url.PathEscape(code),
		what: fmt.Sprintf("segment with integration code %q", code)})
}

// CreateSegment adds an empty segment.
func (r *Remote) CreateSegment(ctx context.Context, in SegmentInput) (Segment, error) {
	return r.segmentCall(ctx, call{method: http.MethodPost, path: "/segments", body: segmentBody(in)})
}

// UpdateSegment changes a segment's fields.
func (r *Remote) UpdateSegment(ctx context.Context, sid int64, in SegmentInput) (Segment, error) {
	return r.segmentCall(ctx, call{method: http.MethodPut, path: sidPath(sid), body: segmentBody(in), what: sidWhat(sid)})
}

// DeleteSegment deletes a segment and its members.
func (r *Remote) DeleteSegment(ctx context.Context, sid int64) error {
	return r.do(ctx, call{method: http.MethodDelete, path: sidPath(sid), what: sidWhat(sid)}, nil)
}
