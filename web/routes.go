package web

import (
	"github.com/labstack/echo/v4"

	"audiencebridge/handlers"
	"audiencebridge/web/session"
)

// registerRoutes lists every route of the console in one place, each with
// the guard that protects it.
func registerRoutes(e *echo.Echo, h *handlers.Handlers, s *session.Manager) {
	e.GET("/healthz", h.Healthz)
	e.GET("/static/*", serveStatic)

	// Everything below has a session (for the CSRF token) and checks it.
	app := e.Group("", loadSession(s), csrf(s))
	app.GET("/login", h.ShowLogin)
	app.POST("/login", h.Login)
	app.POST("/logout", h.Logout)

	in := app.Group("", signedIn)
	in.GET("/", h.ShowHome)
	in.GET("/account", h.ShowAccount)
	in.POST("/account/password", h.ChangePassword)
	in.GET("/recipients", h.ShowNode("recipients"))
	in.GET("/lists", h.ShowNode("lists"))
	in.GET("/workflows", h.ShowNode("workflows"))
	in.GET("/library", h.ShowNode("library"), requireEntitlements("browse the audience library", audienceLibrary))

	admin := in.Group("/admin", requireAdmin("manage the console"))
	admin.GET("/operators", h.ListOperators)
	admin.GET("/operators/new", h.NewOperator)
	admin.POST("/operators", h.CreateOperator)
	admin.GET("/operators/:id", h.ShowOperator)
	admin.POST("/operators/:id", h.UpdateOperator)
	admin.POST("/operators/:id/entitlements/:entitlement", h.SetEntitlement)
	admin.POST("/operators/:id/disable", h.DisableOperator)
	admin.POST("/operators/:id/enable", h.EnableOperator)
	admin.POST("/operators/:id/password", h.ResetPassword)
	admin.GET("/audit", h.ListAudit)
	admin.GET("/external-accounts", h.ShowNode("external-accounts"))

	// AMC data sources (Administration > Platform > AMC Data sources).
	admin.GET("/datasources", h.ShowNode("datasources"))
	// END AMC data sources.

	// The Campaign API: bearer tokens instead of the session cookie.
	api := e.Group("/api/v1", bearerToken(h.Store))
	// API: AMC data sources.
	// END API: AMC data sources.
	_ = api
}
