package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"audiencebridge/models"
	"audiencebridge/web/webtest"
)

func TestHealthReadyAndMetrics(t *testing.T) {
	srv := webtest.Start(t)
	c := srv.Client(t)
	if r := c.Get("/healthz"); r.Status != http.StatusOK || !strings.Contains(r.Body, `"ok"`) {
		t.Errorf("/healthz: %d %s", r.Status, r.Body)
	}
	if r := c.Get("/readyz"); r.Status != http.StatusOK || !strings.Contains(r.Body, `"ready"`) {
		t.Errorf("/readyz: %d %s", r.Status, r.Body)
	}

	// A page and a sync run show in the metrics.
	admin, _ := srv.SignedIn(t, "ana", models.RoleAdmin, models.AudienceLibrary, models.AAMAdmin)
	admin.Get("/lists")
	f := newAudienceFixture(t, srv, 12, 2)
	saved := admin.Post("/lists/shared-audience", url.Values{"label": {"Probe"}, "audienceSid": {strconv.FormatInt(f.seg.SID, 10)},
		"dataSource": {models.DefaultDataSourceName}})
	l, err := srv.Store.ListByID(context.Background(), mustID(t, saved.Location()))
	if err != nil {
		t.Fatal(err)
	}
	waitRunDone(t, srv, *l.LastRunID)

	m := c.Get("/metrics")
	if m.Status != http.StatusOK {
		t.Fatalf("/metrics from this machine: %d", m.Status)
	}
	for _, want := range []string{
		`audiencebridge_http_requests_total{method="GET",route="/lists",status="200"} 1`,
		`audiencebridge_http_request_duration_seconds_bucket{method="GET",route="/lists"`,
		`audiencebridge_sync_runs_total{kind="import",status="succeeded"} 1`,
		`audiencebridge_sync_run_duration_seconds_count{kind="import"} 1`,
		`audiencebridge_sync_run_records_sum{kind="import"} ` + strconv.FormatInt(f.received, 10),
		`audiencebridge_job_queue_depth{state="available"}`,
	} {
		if !strings.Contains(m.Body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// A raw path never becomes a label: the route template does.
	if strings.Contains(m.Body, `route="/lists/`+strconv.FormatInt(l.ID, 10)) {
		t.Errorf("a list id became a metric label")
	}
}

func TestMetricsNeedTheTokenFromElsewhere(t *testing.T) {
	srv := webtest.Start(t, webtest.Options{MetricsToken: "scrape-me-0123456789"})
	c := srv.Client(t)
	req := c.Request(http.MethodGet, "/metrics", nil)
	req.Header.Set("Authorization", "Bearer wrong")
	if r := c.Do(req); r.Status != http.StatusForbidden {
		t.Errorf("a wrong token: %d", r.Status)
	}
	req = c.Request(http.MethodGet, "/metrics", nil)
	req.Header.Set("Authorization", "Bearer scrape-me-0123456789")
	if r := c.Do(req); r.Status != http.StatusOK {
		t.Errorf("the token: %d", r.Status)
	}
}
