// Package apidocs draws the API reference: every operation of the API
// description with its parameters, bodies and answers, and the schemas they
// name.
package apidocs

import "strings"

// VM is the API reference page, built from the parsed API description.
type VM struct {
	Title   string
	Version string
	Intro   []Block
	// JSONHref is where the document itself is served.
	JSONHref string
	Groups   []Group
	Schemas  []Schema
}

// Count is how many operations the page lists.
func (vm VM) Count() int {
	n := 0
	for _, g := range vm.Groups {
		n += len(g.Operations)
	}
	return n
}

// Block is a paragraph of a description, or a bulleted list when Items is
// set.
type Block struct {
	Text  Text
	Items []Text
}

// Text is a line of prose with `code` spans.
type Text []Span

// Span is a run of text, set as code or not.
type Span struct {
	Text string
	Code bool
}

// Group is the operations of one tag.
type Group struct {
	Name        string
	Description []Block
	Operations  []Operation
}

// Anchor is the group's id on the page.
func (g Group) Anchor() string { return "tag-" + slug(g.Name) }

// Operation is one method on one path.
type Operation struct {
	ID          string
	Method      string
	Path        string
	Summary     string
	Description []Block
	// Extension is set on operations that SPEC.md does not have.
	Extension  bool
	Parameters []Parameter
	Body       *Body
	Answers    []Answer
}

// Anchor is the operation's id on the page.
func (o Operation) Anchor() string { return "op-" + o.ID }

// MethodClass is the badge of the method.
func (o Operation) MethodClass() string {
	switch o.Method {
	case "GET":
		return "badge badge-success"
	case "DELETE":
		return "badge badge-danger"
	}
	return "badge badge-warning"
}

// Parameter is a path, query or header parameter.
type Parameter struct {
	Name        string
	In          string
	Type        Type
	Required    bool
	Description []Block
}

// Body is a request body.
type Body struct {
	Required    bool
	Description []Block
	Contents    []Content
}

// Content is a body in one media type.
type Content struct {
	MediaType string
	Type      Type
}

// Answer is a response by status.
type Answer struct {
	Status      string
	Description []Block
	Headers     []string
	Contents    []Content
}

// StatusClass is the badge of the status.
func (a Answer) StatusClass() string {
	switch {
	case strings.HasPrefix(a.Status, "2"):
		return "badge badge-success"
	case strings.HasPrefix(a.Status, "5"):
		return "badge badge-danger"
	}
	return "badge badge-muted"
}

// Schema is a named schema of the document.
type Schema struct {
	Name        string
	Description []Block
	// Type is set when the schema is not an object with fields.
	Type   Type
	Fields []Field
}

// Anchor is the schema's id on the page.
func (s Schema) Anchor() string { return SchemaAnchor(s.Name) }

// SchemaAnchor is the id of a named schema on the page.
func SchemaAnchor(name string) string { return "schema-" + name }

// Field is a property of an object schema; the properties of an inline
// object are listed under dotted names.
type Field struct {
	Name        string
	Type        Type
	Required    bool
	Description []Block
}

// Type describes a schema in a few words: Before, then the named schema
// (a link) when there is one, then After; Enum lists the allowed values.
type Type struct {
	Before string
	Schema string
	After  string
	Enum   []string
}

func slug(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, s)
}
