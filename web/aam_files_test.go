package web_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

// batchReport is the answer of POST /aam/v1/files.
type batchReport struct {
	Lines    int `json:"lines"`
	Applied  int `json:"applied"`
	Rejected int `json:"rejected"`
	Errors   []struct {
		Line   int    `json:"line"`
		Reason string `json:"reason"`
	} `json:"errors"`
}

func batchServer(t *testing.T) (*webtest.Server, *library.Embedded, int64) {
	t.Helper()
	srv := webtest.Start(t)
	lib := library.NewEmbedded(srv.Store)
	ctx := context.Background()
	if _, err := lib.CreateDataSource(ctx, library.DataSource{ID: 1001, Name: "Visitors", IDType: library.Cookie}); err != nil {
		t.Fatal(err)
	}
	seg, err := lib.CreateSegment(ctx, library.SegmentInput{Name: "Buyers", IntegrationCode: "buyers", DataSourceID: 1001})
	if err != nil {
		t.Fatal(err)
	}
	return srv, lib, seg.SID
}

func filesPath(name string) string { return "/aam/v1/files?name=" + url.QueryEscape(name) }

func TestAAMBatchFileGuards(t *testing.T) {
	srv, _, _ := batchServer(t)
	c := srv.Client(t)
	body := fmt.Sprintf("%038d\tbuyers\n", 1)
	if r := c.API(http.MethodPost, filesPath("ftp_dpm_1001_1700000000.sync"), "", body, "text/plain"); r.Status != http.StatusUnauthorized {
		t.Errorf("no token = %d %s", r.Status, r.Body)
	}
	reader := srv.Token(t, srv.Operator(t, "reader", models.RoleMarketer, models.AudienceLibrary))
	r := c.API(http.MethodPost, filesPath("ftp_dpm_1001_1700000000.sync"), reader, body, "text/plain")
	if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "aam-admin") {
		t.Errorf("without aam-admin = %d %s", r.Status, r.Body)
	}
}

func TestAAMPublishesBatchFile(t *testing.T) {
	srv, lib, sid := batchServer(t)
	c := srv.Client(t)
	token := srv.Token(t, srv.Operator(t, "publisher", models.RoleMarketer, models.AAMAdmin))

	body := fmt.Sprintf("%038d\tbuyers\n%038d\td_sid=%d,\"age\"=\"42\"\n%038d\tnope\n", 1, 2, sid, 3)
	r := c.API(http.MethodPost, filesPath("ftp_dpm_1001_1700000000.sync"), token, body, "text/plain")
	if r.Status != http.StatusOK {
		t.Fatalf("publish = %d %s", r.Status, r.Body)
	}
	var rep batchReport
	r.JSON(t, &rep)
	if rep.Lines != 3 || rep.Applied != 2 || rep.Rejected != 1 || len(rep.Errors) != 2 || rep.Errors[0].Line != 2 || rep.Errors[1].Line != 3 ||
		!strings.Contains(rep.Errors[0].Reason, "key-value pair") {
		t.Errorf("report = %+v", rep)
	}
	seg, err := lib.Segment(context.Background(), sid)
	if err != nil || seg.Size != 2 {
		t.Errorf("segment = %+v %v", seg, err)
	}

	// Gzip, split: the body is streamed past the 1 MB form limit.
	var raw strings.Builder
	for i := 0; i < 40000; i++ {
		fmt.Fprintf(&raw, "%038d\tbuyers\n", 1000+i)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write([]byte(raw.String())); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	r = c.API(http.MethodPost, filesPath("ftp_dpm_1001_1700000001.sync.1.gz"), token, gz.String(), "application/gzip")
	r.JSON(t, &rep)
	if r.Status != http.StatusOK || rep.Lines != 40000 || rep.Applied != 40000 {
		t.Errorf("gzip = %d %+v", r.Status, rep)
	}
	r = c.API(http.MethodPost, filesPath("ftp_dpm_1001_1700000001.sync.2"), token, raw.String(), "text/plain")
	if r.Status != http.StatusOK {
		t.Errorf("plain over 1 MB = %d %s", r.Status, r.Body[:min(len(r.Body), 200)])
	}
	if seg, _ := lib.Segment(context.Background(), sid); seg.Size != 40002 {
		t.Errorf("size = %d", seg.Size)
	}
}

func TestAAMBatchFileRefused(t *testing.T) {
	srv, _, _ := batchServer(t)
	c := srv.Client(t)
	token := srv.Token(t, srv.Operator(t, "publisher", models.RoleMarketer, models.AAMAdmin))
	for name, want := range map[string]string{
		"":                                "give the file's name",
		"audience.txt":                    "does not start with ftp_dpm_",
		"ftp_dpm_1001_1700000000.csv":     `not \".csv\"`,
		"ftp_dpm_9999_1700000000.sync":    "no data source of the library has the DPID 9999",
		"ftp_dpm_1001_1700000000.sync.gz": "not gzip data",
	} {
		r := c.API(http.MethodPost, filesPath(name), token, "x\ty\n", "text/plain")
		var body struct {
			Error string `json:"error"`
			Field string `json:"field"`
		}
		r.JSON(t, &body)
		wantField := "name"
		if strings.HasSuffix(name, ".gz") {
			wantField = ""
		}
		if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, want) || body.Field != wantField {
			t.Errorf("%q = %d %s, want 400 with %q on %q", name, r.Status, r.Body, want, wantField)
		}
		if strings.Contains(name, "_") && !strings.Contains(name, "9999") && !strings.HasSuffix(name, ".gz") && !strings.Contains(body.Error, library.BatchNameRule) {
			t.Errorf("%q: the rule is not quoted: %s", name, body.Error)
		}
	}
}
