package handlers

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"audiencebridge/models"
)

// FuzzAPIBody feeds outside bytes to the decoder behind every JSON POST of
// /api/v1 and /aam/v1 (lists, workflows, recipients, data sources): it
// must never panic, and must either decode, answer 400 with a JSON error
// itself, or return a validation error that names its field.
func FuzzAPIBody(f *testing.F) {
	for _, seed := range []string{
		`{"label":"Weekend","internalName":"LST1","sharedAudienceId":42,"dataSource":"defaultECID"}`,
		`{"label":"W","query":{"conditions":[{"field":"email","op":"endsWith","value":"@shop.example"}]},"updateSharedAudience":{"newSegmentName":"S"},"dataSource":"defaultECID","complementEnabled":true}`,
		`{"email":"a@example.org","firstName":"A","visitorIds":["12345678901234567890123456789012345678"]}`,
		`{"label":"CRM","internalName":"crm","idType":"declaredId","reconciliationKey":"crmId","hashAlgorithm":"sha256","aamDataSourceId":"1234"}`,
		`{"label":1}`, `[]`, `null`, `{"label":"a"}{"label":"b"}`, `{"unknown":1}`, `{"query":{"conditions":"x"}}`,
		`{"sharedAudienceId":1e400}`, `{"syncEveryMinutes":-1}`, "\xef\xbb\xbf{}", `{"label":"\ud800"}`,
	} {
		f.Add(seed)
	}
	e := echo.New()
	f.Fuzz(func(t *testing.T, body string) {
		for kind, target := range map[string]func() any{
			"workflow":   func() any { return &apiWorkflowRequest{} },
			"datasource": func() any { return &dataSourceRequest{} },
			"recipient": func() any {
				return &struct {
					Email      string   `json:"email"`
					VisitorIDs []string `json:"visitorIds"`
				}{}
			},
			"list": func() any {
				return &struct {
					SharedAudienceID int64 `json:"sharedAudienceId"`
					SyncEveryMinutes *int  `json:"syncEveryMinutes"`
				}{}
			},
		} {
			req := httptest.NewRequest(http.MethodPost, "/api/v1/x", strings.NewReader(body))
			rec := httptest.NewRecorder()
			c := e.NewContext(req, rec)
			v := target()
			done, err := decodeJSON(c, v)
			var invalid *models.ValidationError
			switch {
			case !done:
				if err != nil {
					t.Fatalf("%s: decoded with an error: %v", kind, err)
				}
				if ds, ok := v.(*dataSourceRequest); ok {
					if _, err := ds.input(); err != nil && !errors.As(err, &invalid) {
						t.Fatalf("datasource input: not a validation error: %v", err)
					}
				}
			case err == nil:
				var answer struct{ Error string }
				if rec.Code != http.StatusBadRequest || json.Unmarshal(rec.Body.Bytes(), &answer) != nil || answer.Error == "" {
					t.Fatalf("%s: refused with %d %q", kind, rec.Code, rec.Body.String())
				}
			case errors.As(err, &invalid):
				if invalid.Field == "" {
					t.Fatalf("%s: a validation error without a field: %v", kind, err)
				}
			default:
				t.Fatalf("%s: unexpected error %v", kind, err)
			}
		}
	})
}
