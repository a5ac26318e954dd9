package web_test

import (
	"context"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

// servedDocument fetches /api/openapi.json, without signing in, and parses
// it.
func servedDocument(t *testing.T, srv *webtest.Server) *openapi3.T {
	t.Helper()
	r := srv.Client(t).Get("/api/openapi.json")
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /api/openapi.json = %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	doc, err := openapi3.NewLoader().LoadFromData([]byte(r.Body))
	if err != nil {
		t.Fatalf("the served document does not parse: %v", err)
	}
	return doc
}

var echoParam = regexp.MustCompile(`:([A-Za-z]+)`)

func TestOpenAPIDocument(t *testing.T) {
	srv := webtest.Start(t)
	doc := servedDocument(t, srv)
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the served document is not valid OpenAPI: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi = %q", doc.OpenAPI)
	}
	if s := doc.Components.SecuritySchemes["bearerAuth"]; s == nil || s.Value.Type != "http" || s.Value.Scheme != "bearer" {
		t.Errorf("bearerAuth = %+v", s)
	}

	// Every route of the two APIs has an operation, and every operation a
	// route.
	described := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			described[method+" "+path] = true
			if op.Summary == "" || op.OperationID == "" || len(op.Tags) == 0 {
				t.Errorf("%s %s has no summary, operationId or tag", method, path)
			}
			if op.Responses.Status(http.StatusUnauthorized) == nil {
				t.Errorf("%s %s does not describe its 401 (no or a bad token)", method, path)
			}
		}
	}
	routed := map[string]bool{}
	for _, r := range srv.Echo.Routes() {
		if r.Method == echo.RouteNotFound || !(strings.HasPrefix(r.Path, "/api/v1/") || strings.HasPrefix(r.Path, "/aam/v1/")) {
			continue
		}
		routed[r.Method+" "+echoParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	for _, op := range slices.Sorted(maps.Keys(routed)) {
		if !described[op] {
			t.Errorf("the router has %s, and the API description does not", op)
		}
	}
	for _, op := range slices.Sorted(maps.Keys(described)) {
		if !routed[op] {
			t.Errorf("the API description has %s, and the router does not", op)
		}
	}
	if len(routed) < 30 {
		t.Errorf("only %d routes under /api/v1 and /aam/v1: %v", len(routed), routed)
	}

	// The extensions of SPEC.md are marked as such.
	for _, ext := range []struct{ method, path string }{
		{http.MethodGet, "/aam/v1/segments/{sid}/members"},
		{http.MethodGet, "/api/v1/runs/{id}/unrecognized"},
	} {
		op := doc.Paths.Find(ext.path).GetOperation(ext.method)
		if op == nil || op.Extensions["x-extension"] != true || op.Description == "" {
			t.Errorf("%s %s is not marked x-extension with a description", ext.method, ext.path)
		}
	}
}

func TestOpenAPIDocsPage(t *testing.T) {
	srv := webtest.Start(t)
	doc := servedDocument(t, srv)
	operations := 0
	for _, item := range doc.Paths.Map() {
		operations += len(item.Operations())
	}

	anonymous := srv.Client(t)
	if r := anonymous.Get("/api/docs"); r.Status != http.StatusSeeOther || r.Location() != "/login?next=%2Fapi%2Fdocs" {
		t.Fatalf("signed out = %d %s", r.Status, r.Location())
	}

	c, _ := srv.SignedIn(t, "mia", models.RoleMarketer)
	if r := c.Get("/account"); r.Status != http.StatusOK || r.Doc.Find(`a[data-testid="api-docs-link"]`).AttrOr("href", "") != "/api/docs" {
		t.Fatalf("the account page does not link to the API reference: %d", r.Status)
	}
	r := c.Get("/api/docs")
	if r.Status != http.StatusOK || !strings.Contains(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/api/docs = %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	if n := r.Doc.Find(`[data-testid="api-operation"]`).Length(); n != operations {
		t.Errorf("the page lists %d operations, the document has %d", n, operations)
	}
	if n := r.Doc.Find(`[data-testid="api-extension"]`).Length(); n != 2 {
		t.Errorf("the page marks %d extensions, want 2", n)
	}
	if r.Has("script:not([src])") || r.Has("[style]") {
		t.Error("the page has an inline script or style, which the CSP forbids")
	}
	// One operation in full: its parameters, its body and its answers.
	op := r.Doc.Find(`[data-testid="api-operation"][data-method="POST"][data-path="/aam/v1/segments/{sid}/members"]`)
	if op.Length() != 1 {
		t.Fatal("POST /aam/v1/segments/{sid}/members is not on the page")
	}
	text := op.Text()
	for _, want := range []string{"Add members to a segment", "sid", "Content-Encoding", "text/plain", "application/json", "MemberResult"} {
		if !strings.Contains(text, want) {
			t.Errorf("POST /aam/v1/segments/{sid}/members does not show %q: %s", want, text)
		}
	}
	var statuses []string
	op.Find(`[data-testid="api-answer"]`).Each(func(_ int, s *goquery.Selection) { statuses = append(statuses, s.AttrOr("data-status", "")) })
	for _, want := range []string{"200", "400", "401", "403", "404", "413"} {
		if !slices.Contains(statuses, want) {
			t.Errorf("answers = %v, want %s among them", statuses, want)
		}
	}
	if !op.Find(`a[href="#schema-MemberResult"]`).Is("a") || !r.Has(`#schema-MemberResult[data-testid="api-schema"]`) {
		t.Error("the MemberResult schema is not linked from the operation and listed")
	}
}
