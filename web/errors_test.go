package web

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"

	"audiencebridge/models"
)

func TestClassifyMapsEveryKindOfError(t *testing.T) {
	cases := []struct {
		err    error
		status int
		field  string
	}{
		{fmt.Errorf("load: %w", models.ErrNotFound), 404, ""},
		{models.Invalid("granted", "must be true or false"), 422, "granted"},
		{models.ValidationErrors{{Field: "login", Message: "enter a login"}}, 422, "login"},
		{&models.ConflictError{Field: "login", Message: "taken"}, 409, "login"},
		{&models.AccessDenied{NeedsRole: models.RoleAdmin}, 403, ""},
		{&models.ThrottledError{}, 429, ""},
		{echo.ErrNotFound, 404, ""},
		{echo.NewHTTPError(http.StatusRequestEntityTooLarge), 413, ""},
		{errors.New("disk on fire"), 500, ""},
	}
	for _, tc := range cases {
		p := classify(tc.err)
		if p.status != tc.status || p.field != tc.field {
			t.Errorf("classify(%v) = %d %q, want %d %q", tc.err, p.status, p.field, tc.status, tc.field)
		}
		if p.status == 500 && p.message == tc.err.Error() {
			t.Errorf("an internal error leaks its text: %q", p.message)
		}
	}
}
