package web

import (
	"context"
	"crypto/subtle"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"audiencebridge/models"
)

// Metrics are the process's Prometheus metrics, in a registry of its own
// (so that tests may build many servers).
type Metrics struct {
	Registry    *prometheus.Registry
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	runs        *prometheus.CounterVec
	runDuration *prometheus.HistogramVec
	runRecords  *prometheus.HistogramVec
}

// queueCollector reads the job engine's queue at each scrape.
type queueCollector struct {
	store *models.Store
	desc  *prometheus.Desc
}

func (q *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- q.desc }

func (q *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	depth, err := q.store.QueueDepth(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(q.desc, err)
		return
	}
	for _, state := range []string{"available", "scheduled", "retryable", "running", "pending"} {
		ch <- prometheus.MustNewConstMetric(q.desc, prometheus.GaugeValue, float64(depth[state]), state)
	}
}

// NewMetrics registers the console's metrics.
func NewMetrics(store *models.Store) *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "audiencebridge_http_requests_total",
			Help: "HTTP requests by route template, method and status."}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "audiencebridge_http_request_duration_seconds",
			Help: "HTTP request latency by route template and method.", Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}},
			[]string{"route", "method"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "audiencebridge_sync_runs_total",
			Help: "Sync runs ended by this process, by kind (import, export) and status."}, []string{"kind", "status"}),
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "audiencebridge_sync_run_duration_seconds",
			Help: "Duration of the sync runs ended by this process.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 14)}, []string{"kind"}),
		runRecords: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "audiencebridge_sync_run_records",
			Help:    "Records per succeeded run: members received (import) or recipients targeted (export).",
			Buckets: prometheus.ExponentialBuckets(10, 4, 10)}, []string{"kind"}),
	}
	m.Registry.MustRegister(m.requests, m.latency, m.runs, m.runDuration, m.runRecords,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&queueCollector{store: store, desc: prometheus.NewDesc("audiencebridge_job_queue_depth",
			"Jobs in the job engine's queue by state.", []string{"state"}, nil)})
	return m
}

// middleware counts and times requests by route template, never by raw
// path (which would grow without bound).
func (m *Metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		status := c.Response().Status
		if err != nil {
			if he, ok := err.(*echo.HTTPError); ok {
				status = he.Code
			}
		}
		m.requests.WithLabelValues(route, c.Request().Method, strconv.Itoa(status)).Inc()
		m.latency.WithLabelValues(route, c.Request().Method).Observe(time.Since(start).Seconds())
		return err
	}
}

// RunFinished records an ended run (audiencesync.Observer).
func (m *Metrics) RunFinished(r *models.Run) {
	m.runs.WithLabelValues(string(r.Kind), string(r.Status)).Inc()
	if r.StartedAt != nil && r.FinishedAt != nil {
		m.runDuration.WithLabelValues(string(r.Kind)).Observe(r.FinishedAt.Sub(*r.StartedAt).Seconds())
	}
	if r.Status == models.RunSucceeded {
		m.runRecords.WithLabelValues(string(r.Kind)).Observe(float64(r.Received))
	}
}

// RegisterProbes adds /healthz (the database answers), /readyz (and its
// migrations are all applied) and /metrics, for a worker's own server.
func RegisterProbes(e *echo.Echo, store *models.Store, m *Metrics) { registerProbes(e, store, m, "") }

// registerProbes adds the probes; /metrics answers loopback clients, or
// those that send the token.
func registerProbes(e *echo.Echo, store *models.Store, m *Metrics, token string) {
	e.GET("/healthz", func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if err := store.Ping(ctx); err != nil {
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": "not answering"})
		}
		return c.JSON(http.StatusOK, map[string]string{"status": "ok", "database": string(store.Dialect())})
	})
	e.GET("/readyz", func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if err := store.Ping(ctx); err != nil {
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": "the database does not answer"})
		}
		st, err := store.MigrationState(ctx)
		if err != nil {
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": "the migrations cannot be read"})
		}
		if len(st.Pending) > 0 {
			return c.JSON(http.StatusServiceUnavailable, map[string]any{"status": "not ready",
				"reason": "migrations are pending: run `audiencebridge migrate`", "pending": len(st.Pending)})
		}
		return c.JSON(http.StatusOK, map[string]any{"status": "ready", "database": string(store.Dialect()), "migrations": len(st.Applied)})
	})
	if m != nil {
		metrics := echo.WrapHandler(promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
		e.GET("/metrics", func(c echo.Context) error {
			allowed := token != "" && subtle.ConstantTimeCompare([]byte(c.Request().Header.Get("Authorization")), []byte("Bearer "+token)) == 1
			if ip := net.ParseIP(c.RealIP()); token == "" && ip != nil && ip.IsLoopback() {
				allowed = true
			}
			if !allowed {
				return c.JSON(http.StatusForbidden, map[string]string{"error": "metrics are served to loopback clients, or with the --metrics-token"})
			}
			return metrics(c)
		})
	}
}
