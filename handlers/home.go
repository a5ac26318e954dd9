package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"audiencebridge/views/pages/home"
)

// ShowHome is the explorer's start page.
func (h *Handlers) ShowHome(c echo.Context) error {
	f := h.Frame(c, "Welcome, "+Me(c).DisplayName(), "home")
	f.Subtitle = "Share audiences with the Experience Cloud in seconds, with every record accounted for."
	return render(c, http.StatusOK, home.Page(f, home.VM{Operator: Me(c)}))
}
