// Package web assembles the console's HTTP server: the routes, the
// middleware (sessions, CSRF, sign-in and entitlement guards, security
// headers), the one error handler and the embedded static assets.
package web

import (
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"audiencebridge/audiencesync"
	"audiencebridge/handlers"
	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/web/session"
)

// Options is what the server needs from the configuration.
type Options struct {
	Store         *models.Store
	SessionSecret []byte
	SessionPolicy models.SessionPolicy
	// TrustProxy takes the client address and the scheme from
	// X-Forwarded-For and X-Forwarded-Proto; only behind a proxy you run.
	TrustProxy bool
	Demo       bool
	Logger     *slog.Logger
	// Jobs enqueues background work; nil only in tests that need none.
	Jobs handlers.Enqueuer
	// MaxUploadBytes bounds an uploaded or API-imported file.
	MaxUploadBytes int64
	// Library is the audience library; nil is the embedded one.
	Library library.Library
	// Sync is the sync engine's service (with the job engine set); nil
	// builds one that cannot queue syncs.
	Sync *audiencesync.Service
	// Metrics, when set, are counted and served at /metrics: to loopback
	// clients, or to any with "Authorization: Bearer <MetricsToken>".
	Metrics      *Metrics
	MetricsToken string
}

// DefaultMaxUploadBytes is the upload limit when none is configured.
const DefaultMaxUploadBytes = 512 << 20

// MaxFormBytes bounds every request body the console accepts.
const MaxFormBytes = "1M"

// New builds the Echo server with every route registered.
func New(opts Options) (*echo.Echo, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.SessionPolicy.Idle == 0 {
		opts.SessionPolicy.Idle = 30 * time.Minute
	}
	if opts.SessionPolicy.MaxAge == 0 {
		opts.SessionPolicy.MaxAge = 12 * time.Hour
	}
	sessions, err := session.NewManager(opts.Store, opts.SessionSecret, opts.SessionPolicy, opts.TrustProxy)
	if err != nil {
		return nil, err
	}
	if opts.MaxUploadBytes <= 0 {
		opts.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if opts.Library == nil {
		opts.Library = library.NewEmbedded(opts.Store)
	}
	if opts.Sync == nil {
		embedded, ok := opts.Library.(*library.Embedded)
		if !ok {
			embedded = library.NewEmbedded(opts.Store)
		}
		if opts.Sync, err = audiencesync.New(opts.Store, opts.SessionSecret, embedded, opts.Logger); err != nil {
			return nil, err
		}
	}
	h := &handlers.Handlers{Store: opts.Store, Sessions: sessions, Log: opts.Logger, Demo: opts.Demo, Jobs: opts.Jobs,
		MaxUploadBytes: opts.MaxUploadBytes, Library: opts.Library, Secrets: opts.Sync.Libraries.Secrets,
		Libraries: opts.Sync.Libraries, Sync: opts.Sync}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = echo.ExtractIPDirect()
	if opts.TrustProxy {
		e.IPExtractor = echo.ExtractIPFromXFFHeader()
	}
	e.HTTPErrorHandler = errorHandler(h, opts.Logger)

	e.Pre(middleware.RemoveTrailingSlashWithConfig(middleware.TrailingSlashConfig{RedirectCode: 301}))
	e.Use(middleware.RequestID())
	e.Use(recoverer(opts.Logger))
	e.Use(requestLogger(opts.Logger))
	e.Use(securityHeaders(sessions))
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: MaxFormBytes, Skipper: streamsItsBody}))

	if opts.Metrics != nil {
		e.Use(opts.Metrics.middleware)
	}
	registerProbes(e, opts.Store, opts.Metrics, opts.MetricsToken)
	registerRoutes(e, h, sessions)
	return e, nil
}

// streamsItsBody names the routes that take files: they stream the body
// under the upload limit instead of the form limit.
func streamsItsBody(c echo.Context) bool {
	// Member changes apply their own limit, handlers.MaxMemberBodyBytes.
	if c.Path() == "/aam/v1/segments/:sid/members" {
		return true
	}
	if c.Request().Method != "POST" {
		return false
	}
	switch c.Path() {
	case "/recipients/import", "/api/v1/recipients/import", "/aam/v1/files", "/library/segments/:sid/members/upload", "/library/files":
		return true
	}
	return false
}
