package webtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"audiencebridge/handlers/openapi"
)

// apiDescription is the API description with its router, built once for
// every test of the process.
var apiDescription = sync.OnceValues(func() (*describedAPI, error) {
	doc, err := openapi.Load()
	if err != nil {
		return nil, err
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route the API description: %w", err)
	}
	return &describedAPI{doc: doc, router: router}, nil
})

type describedAPI struct {
	doc    *openapi3.T
	router routers.Router
}

// describedPath reports whether a path is one the API description covers.
func describedPath(path string) bool {
	return strings.HasPrefix(path, "/api/v1/") || strings.HasPrefix(path, "/aam/v1/")
}

// checkAPI fails the test when an exchange with /api/v1 or /aam/v1 does not
// match the API description, so that the document cannot drift from the
// code. The answer is always checked; the request only when the answer is
// 2xx, as tests send malformed requests on purpose to see them refused.
// JSON bodies are checked against their schemas, other bodies (CSV, text,
// gzip) for their content type only.
func (c *Client) checkAPI(req *http.Request, status int, header http.Header, body []byte) {
	c.t.Helper()
	api, err := apiDescription()
	if err != nil {
		c.t.Errorf("API description: %v", err)
		return
	}
	route, params, err := api.router.FindRoute(req)
	if err != nil {
		// The API's answer to an address or method it does not have.
		if status == http.StatusUnauthorized || status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
			return
		}
		c.t.Errorf("API description: %s %s answered %d, and no operation of the document matches it (%v)", req.Method, req.URL.Path, status, err)
		return
	}
	operation := route.Method + " " + route.Path
	ctx := context.Background()
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: bearerToken, SkipSettingDefaults: true, RejectWhenRequestBodyNotSpecified: true}}
	if status >= 200 && status < 300 {
		if err := c.checkRequest(ctx, in); err != nil {
			c.t.Errorf("API description: %s answered %d to a request that the document does not allow: %s", operation, status, shorten(err))
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header,
		Body: io.NopCloser(bytes.NewReader(body)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		c.t.Errorf("API description: %s answered %d, which the document does not describe: %s\nthe answer: %s", operation, status, shorten(err), shortenText(string(body)))
	}
}

// checkRequest validates a request that was sent, on a copy of it.
func (c *Client) checkRequest(ctx context.Context, in *openapi3filter.RequestValidationInput) error {
	sent := in.Request
	req := sent.Clone(ctx)
	req.Body = http.NoBody
	var raw []byte
	if sent.GetBody != nil {
		rd, err := sent.GetBody()
		if err != nil {
			return fmt.Errorf("read the request body again: %w", err)
		}
		defer rd.Close()
		if raw, err = io.ReadAll(rd); err != nil {
			return fmt.Errorf("read the request body again: %w", err)
		}
		req.Body = io.NopCloser(bytes.NewReader(raw))
	}
	copied := *in
	copied.Request = req
	opts := *in.Options
	copied.Options = &opts

	mediaType, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	encoding := strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding")))
	whole := sent.GetBody != nil && mediaType == "application/json" && (encoding == "" || encoding == "identity")
	if body := in.Route.Operation.RequestBody; body != nil && !whole {
		// A body that is not plain JSON: its content type alone.
		opts.ExcludeRequestBody = true
		switch {
		case sent.Body == nil || sent.Body == http.NoBody:
			if body.Value.Required {
				return errors.New("the request has no body, and the operation needs one")
			}
		case body.Value.Content.Get(req.Header.Get("Content-Type")) == nil:
			return fmt.Errorf("the request's Content-Type %q is not one the operation takes (%s)", req.Header.Get("Content-Type"),
				strings.Join(slices.Sorted(maps.Keys(body.Value.Content)), ", "))
		}
	}
	return openapi3filter.ValidateRequest(ctx, &copied)
}

// bearerToken is the bearerAuth scheme of the document: the server checks
// the token itself, the document only that one is sent.
func bearerToken(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	scheme, token, _ := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return errors.New(`no "Authorization: Bearer <token>" header`)
	}
	return nil
}

// shorten keeps a validation error readable: kin-openapi quotes whole
// values, and a member body can be megabytes.
func shorten(err error) string { return shortenText(err.Error()) }

func shortenText(s string) string {
	const most = 2000
	if len(s) <= most {
		return s
	}
	return s[:most] + fmt.Sprintf("… (%d more bytes)", len(s)-most)
}
