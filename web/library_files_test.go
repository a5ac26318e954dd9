package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"audiencebridge/library"
	"audiencebridge/library/librarytest"
	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

func TestBatchFileThroughTheBrowserForm(t *testing.T) {
	srv := webtest.Start(t)
	ctx := context.Background()
	lib := library.NewEmbedded(srv.Store)
	ds, err := lib.CreateDataSource(ctx, library.DataSource{ID: 100001, Name: "Visitors", IDType: library.Cookie})
	if err != nil {
		t.Fatal(err)
	}
	seg, err := lib.CreateSegment(ctx, library.SegmentInput{Name: "Buyers", DataSourceID: ds.ID, IntegrationCode: "buyers"})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := srv.SignedIn(t, "root", models.RoleAdmin, models.AudienceLibrary, models.AAMAdmin)
	page := c.Get("/library/files")
	if page.Status != 200 || !page.Has(`[data-testid="batch-form"]`) {
		t.Fatalf("form = %d", page.Status)
	}
	file := fmt.Sprintf("%s\td_sid=%d\n%s\tic=buyers\nbad-id\td_sid=%d\n%s\t\"age\"=\"42\"\n",
		librarytest.ECID(1), seg.SID, librarytest.ECID(2), seg.SID, librarytest.ECID(3))
	r := c.Upload("/library/files", "file", "ftp_dpm_100001_1733040000.sync", []byte(file), nil)
	if r.Status != 200 || r.Text(`[data-testid="batch-lines"]`) != "4" || r.Text(`[data-testid="batch-applied"]`) != "2" ||
		r.Text(`[data-testid="batch-rejected"]`) != "2" {
		t.Fatalf("report = %d lines %q applied %q rejected %q %s", r.Status, r.Text(`[data-testid="batch-lines"]`),
			r.Text(`[data-testid="batch-applied"]`), r.Text(`[data-testid="batch-rejected"]`), r.Text(`[data-testid="batch-error"]`))
	}
	errs := r.Text(`[data-testid="batch-errors"]`)
	if !strings.Contains(errs, "3") || !strings.Contains(errs, "4") {
		t.Errorf("errors table = %q", errs)
	}
	got, err := lib.Segment(ctx, seg.SID)
	if err != nil || got.Size != 2 {
		t.Fatalf("segment size = %d, %v", got.Size, err)
	}
	bad := c.Upload("/library/files", "file", "members.txt", []byte(file), nil)
	if bad.Status != http.StatusBadRequest || !strings.Contains(bad.Text(`[data-testid="batch-error"]`), "ftp_dpm_") {
		t.Fatalf("bad name = %d %q", bad.Status, bad.Text(`[data-testid="batch-error"]`))
	}
	m, _ := srv.SignedIn(t, "mia", models.RoleMarketer, models.AudienceLibrary)
	if r := m.Get("/library/files"); r.Status != http.StatusForbidden {
		t.Fatalf("marketer without aam-admin = %d", r.Status)
	}
	if r := m.Upload("/library/files", "file", "ftp_dpm_100001_1733040000.sync", []byte(file), nil); r.Status != http.StatusForbidden {
		t.Fatalf("marketer upload = %d", r.Status)
	}
}
