// Package openapi holds the API description of /api/v1 and /aam/v1, an
// OpenAPI 3 document embedded in the binary. The console serves it as JSON
// and as a page; the tests check their API traffic against it.
package openapi

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
)

// source is the document as written: YAML, for its comments.
//
//go:embed openapi.yaml
var source []byte

// Load returns the document, parsed and validated once. Callers share it
// and must not change it.
var Load = sync.OnceValues(func() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(source)
	if err != nil {
		return nil, fmt.Errorf("parse the API description: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("the API description is not valid OpenAPI: %w", err)
	}
	return doc, nil
})

// JSON returns the document as JSON, encoded once.
var JSON = sync.OnceValues(func() ([]byte, error) {
	doc, err := Load()
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode the API description: %w", err)
	}
	return raw, nil
})
