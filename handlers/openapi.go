package handlers

import (
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"audiencebridge/handlers/openapi"
	"audiencebridge/views/layouts"
	"audiencebridge/views/pages/apidocs"
)

// OpenAPIDocumentPath is where the API description is served.
const OpenAPIDocumentPath = "/api/openapi.json"

// OpenAPIDocument answers GET /api/openapi.json with the API description of
// /api/v1 and /aam/v1. It is public: it describes the API, not its data.
func (h *Handlers) OpenAPIDocument(c echo.Context) error {
	raw, err := openapi.JSON()
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-cache")
	return c.JSONBlob(http.StatusOK, raw)
}

// ShowAPIDocs answers GET /api/docs with the API description as a page of
// the console. It sends a signed-out browser to sign in itself: under /api/
// the central error handler answers JSON, not the sign-in redirect.
func (h *Handlers) ShowAPIDocs(c echo.Context) error {
	if Me(c) == nil {
		return c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request().URL.RequestURI()))
	}
	doc, err := openapi.Load()
	if err != nil {
		return err
	}
	f := h.Frame(c, "API reference", "", layouts.Crumb{Label: "Your account", Href: "/account"}, layouts.Crumb{Label: "API reference"})
	return render(c, http.StatusOK, apidocs.Page(f, apiDocsVM(doc)))
}

// apiDocsVM lays the document out for the page: operations by tag, in path
// order, then the named schemas.
func apiDocsVM(doc *openapi3.T) apidocs.VM {
	vm := apidocs.VM{Title: doc.Info.Title, Version: doc.Info.Version, Intro: docBlocks(doc.Info.Description), JSONHref: OpenAPIDocumentPath}
	byTag := map[string][]apidocs.Operation{}
	for _, path := range slices.Sorted(maps.Keys(doc.Paths.Map())) {
		item := doc.Paths.Value(path)
		for _, method := range docMethods(item) {
			op := item.GetOperation(method)
			tag := "Other"
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			byTag[tag] = append(byTag[tag], docOperation(method, path, item, op))
		}
	}
	for _, t := range doc.Tags {
		if ops, ok := byTag[t.Name]; ok {
			vm.Groups = append(vm.Groups, apidocs.Group{Name: t.Name, Description: docBlocks(t.Description), Operations: ops})
			delete(byTag, t.Name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(byTag)) {
		vm.Groups = append(vm.Groups, apidocs.Group{Name: name, Operations: byTag[name]})
	}
	if doc.Components != nil {
		for _, name := range slices.Sorted(maps.Keys(doc.Components.Schemas)) {
			vm.Schemas = append(vm.Schemas, docSchema(name, doc.Components.Schemas[name].Value))
		}
	}
	return vm
}

// docMethods are a path's methods in the order a reader expects.
func docMethods(item *openapi3.PathItem) []string {
	order := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	methods := slices.Collect(maps.Keys(item.Operations()))
	slices.SortFunc(methods, func(a, b string) int {
		ia, ib := slices.Index(order, a), slices.Index(order, b)
		if ia < 0 {
			ia = len(order)
		}
		if ib < 0 {
			ib = len(order)
		}
		return cmp.Or(cmp.Compare(ia, ib), cmp.Compare(a, b))
	})
	return methods
}

func docOperation(method, path string, item *openapi3.PathItem, op *openapi3.Operation) apidocs.Operation {
	out := apidocs.Operation{ID: cmp.Or(op.OperationID, strings.ToLower(method)+strings.ReplaceAll(path, "/", "-")),
		Method: method, Path: path, Summary: op.Summary, Description: docBlocks(op.Description)}
	out.Extension, _ = op.Extensions["x-extension"].(bool)
	// The path's parameters, unless the operation overrides them.
	for _, p := range item.Parameters {
		if p.Value != nil && op.Parameters.GetByInAndName(p.Value.In, p.Value.Name) == nil {
			out.Parameters = append(out.Parameters, docParameter(p.Value))
		}
	}
	for _, p := range op.Parameters {
		if p.Value != nil {
			out.Parameters = append(out.Parameters, docParameter(p.Value))
		}
	}
	if b := op.RequestBody; b != nil && b.Value != nil {
		out.Body = &apidocs.Body{Required: b.Value.Required, Description: docBlocks(b.Value.Description), Contents: docContents(b.Value.Content)}
	}
	if op.Responses != nil {
		answers := op.Responses.Map()
		for _, status := range slices.Sorted(maps.Keys(answers)) {
			r := answers[status].Value
			if r == nil {
				continue
			}
			a := apidocs.Answer{Status: status, Contents: docContents(r.Content)}
			if r.Description != nil {
				a.Description = docBlocks(*r.Description)
			}
			a.Headers = slices.Sorted(maps.Keys(r.Headers))
			out.Answers = append(out.Answers, a)
		}
	}
	return out
}

func docParameter(p *openapi3.Parameter) apidocs.Parameter {
	return apidocs.Parameter{Name: p.Name, In: p.In, Type: docType(p.Schema), Required: p.Required, Description: docBlocks(p.Description)}
}

func docContents(content openapi3.Content) []apidocs.Content {
	var out []apidocs.Content
	for _, mt := range slices.Sorted(maps.Keys(content)) {
		out = append(out, apidocs.Content{MediaType: mt, Type: docType(content[mt].Schema)})
	}
	return out
}

// docSchema lists an object's fields, the fields of its inline objects under
// dotted names.
func docSchema(name string, s *openapi3.Schema) apidocs.Schema {
	out := apidocs.Schema{Name: name}
	if s == nil {
		return out
	}
	out.Description = docBlocks(s.Description)
	if len(s.Properties) == 0 {
		out.Type = docType(openapi3.NewSchemaRef("", s))
		return out
	}
	out.Fields = docFields("", s)
	return out
}

func docFields(prefix string, s *openapi3.Schema) []apidocs.Field {
	var out []apidocs.Field
	for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
		p := s.Properties[name]
		f := apidocs.Field{Name: prefix + name, Type: docType(p), Required: slices.Contains(s.Required, name)}
		if p.Value != nil {
			f.Description = docBlocks(p.Value.Description)
		}
		out = append(out, f)
		// An inline object, or an array of them, shows its own fields.
		if p.Ref == "" && p.Value != nil {
			switch v := p.Value; {
			case len(v.Properties) > 0:
				out = append(out, docFields(prefix+name+".", v)...)
			case v.Items != nil && v.Items.Ref == "" && v.Items.Value != nil && len(v.Items.Value.Properties) > 0:
				out = append(out, docFields(prefix+name+"[].", v.Items.Value)...)
			}
		}
	}
	return out
}

// docType describes a schema in a few words, naming the schemas it refers
// to.
func docType(ref *openapi3.SchemaRef) apidocs.Type {
	if ref == nil || ref.Value == nil {
		return apidocs.Type{Before: "any"}
	}
	if name, ok := strings.CutPrefix(ref.Ref, "#/components/schemas/"); ok {
		return apidocs.Type{Schema: name}
	}
	v := ref.Value
	var t apidocs.Type
	switch {
	case len(v.AllOf) == 1:
		t = docType(v.AllOf[0])
	case v.Type.Is(openapi3.TypeArray):
		t = docType(v.Items)
		t.Before = "array of " + t.Before
	case v.Type.IsEmpty():
		t.Before = "any"
	default:
		t.Before = strings.Join(v.Type.Slice(), " or ")
		if v.Format != "" {
			t.Before += " (" + v.Format + ")"
		}
	}
	for _, e := range v.Enum {
		t.Enum = append(t.Enum, fmt.Sprint(e))
	}
	if v.Nullable {
		t.After += " or null"
	}
	return t
}

// docBlocks reads the little Markdown the document uses: paragraphs,
// bulleted lists and `code`.
func docBlocks(md string) []apidocs.Block {
	var out []apidocs.Block
	for _, para := range strings.Split(strings.TrimSpace(md), "\n\n") {
		lines := strings.Split(strings.TrimSpace(para), "\n")
		if lines[0] == "" {
			continue
		}
		if strings.HasPrefix(lines[0], "* ") {
			var items []string
			for _, l := range lines {
				l = strings.TrimSpace(l)
				if item, ok := strings.CutPrefix(l, "* "); ok {
					items = append(items, item)
				} else {
					items[len(items)-1] += " " + l // the item goes on
				}
			}
			var b apidocs.Block
			for _, item := range items {
				b.Items = append(b.Items, docText(item))
			}
			out = append(out, b)
			continue
		}
		for i := range lines {
			lines[i] = strings.TrimSpace(lines[i])
		}
		out = append(out, apidocs.Block{Text: docText(strings.Join(lines, " "))})
	}
	return out
}

// docText splits a line at its backticks: every other run is code.
func docText(s string) apidocs.Text {
	var out apidocs.Text
	for i, part := range strings.Split(s, "`") {
		if part != "" {
			out = append(out, apidocs.Span{Text: part, Code: i%2 == 1})
		}
	}
	return out
}
