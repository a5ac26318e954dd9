package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"audiencebridge/static"
)

var staticServer = http.StripPrefix("/static/", http.FileServerFS(static.FS))

// serveStatic serves the embedded assets. A request naming the current
// content version may be cached for ever; any other must be revalidated.
func serveStatic(c echo.Context) error {
	name := strings.TrimPrefix(c.Request().URL.Path, "/static/")
	v := static.Version(name)
	if v == "" {
		return echo.ErrNotFound
	}
	if c.QueryParam("v") == v {
		c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		c.Response().Header().Set(echo.HeaderCacheControl, "no-cache")
	}
	staticServer.ServeHTTP(c.Response(), c.Request())
	return nil
}
