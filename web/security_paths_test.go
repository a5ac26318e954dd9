package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

// Batch file names cannot leave their folder, and download paths cannot
// name anything but their run's files.
func TestSecurityPathTraversal(t *testing.T) {
	srv := webtest.Start(t)
	admin, op := srv.SignedIn(t, "ana", models.RoleAdmin, models.AudienceLibrary, models.AAMAdmin)
	token := srv.Token(t, op)
	for _, name := range []string{
		"../ftp_dpm_100001_1700000000.sync",
		"../../etc/passwd",
		"/etc/ftp_dpm_100001_1700000000.sync",
		"done/../../ftp_dpm_100001_1700000000.sync",
		"..%2fftp_dpm_100001_1700000000.sync",
		"%2e%2e%2fftp_dpm_100001_1700000000.sync",
		"ftp_dpm_100001_1700000000.sync\x00.txt",
		`..\ftp_dpm_100001_1700000000.sync`,
	} {
		r := admin.API(http.MethodPost, "/aam/v1/files?name="+url.QueryEscape(name), token, "x\td_sid=1\n", "text/plain")
		var body struct{ Error, Field string }
		r.JSON(t, &body)
		if r.Status != http.StatusBadRequest || body.Field != "name" {
			t.Errorf("batch file %q: %d %+v, want 400 naming the name", name, r.Status, body)
		}
		form := admin.Upload("/library/files", "file", name, []byte("x\td_sid=1\n"), nil)
		if form.Status < 400 {
			t.Errorf("console batch file %q: %d", name, form.Status)
		}
	}
	for _, path := range []string{
		"/workflows/1/runs/1/transitions/..%2f..%2f..%2fetc%2fpasswd",
		"/workflows/1/runs/1/transitions/%2e%2e",
		"/lists/1/runs/..%2f1/unrecognized.csv",
		"/recipients/imports/..%2f..%2f1/rejected.csv",
		"/static/..%2f..%2fgo.mod",
		"/static/%2e%2e/%2e%2e/go.mod",
		"/static/../../go.mod",
	} {
		r := admin.Get(path)
		if r.Status != http.StatusNotFound || strings.Contains(r.Body, "module audiencebridge") {
			t.Errorf("GET %s: %d, want 404", path, r.Status)
		}
	}
}
