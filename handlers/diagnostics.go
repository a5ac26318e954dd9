package handlers

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/views/layouts"
	"audiencebridge/views/pages/diagnostics"
)

// Timing of the diagnostics page: each library is given a few seconds to
// answer, and failed runs are counted over a day.
const (
	diagnosticsReach  = 4 * time.Second
	failedRunsWindow  = 24 * time.Hour
	failedRunsListed  = 10
	globalWebhookPath = "/admin/diagnostics/webhook"
)

// diagnose runs every check: the database ones one after the other (each
// one query), the libraries' at the same time, each with its time-out.
func (h *Handlers) diagnose(ctx context.Context) diagnostics.VM {
	vm := diagnostics.VM{Now: h.Store.Now(), Dialect: h.Store.Dialect(), FailedWindow: failedRunsWindow}
	var wg sync.WaitGroup
	vm.Accounts = make([]diagnostics.AccountResult, len(models.ExternalAccounts))
	for i, name := range models.ExternalAccounts {
		wg.Go(func() {
			reachCtx, cancel := context.WithTimeout(ctx, diagnosticsReach)
			defer cancel()
			msg, err := h.Libraries.Check(reachCtx, name)
			vm.Accounts[i] = diagnostics.AccountResult{Name: name, Reached: capitalize(msg), Err: err}
		})
	}
	var libSources []library.DataSource
	var libErr error
	wg.Go(func() {
		reachCtx, cancel := context.WithTimeout(ctx, diagnosticsReach)
		defer cancel()
		lib, err := h.Libraries.For(reachCtx, models.ImportAccount)
		if err != nil {
			libErr = err
			return
		}
		libSources, libErr = lib.DataSources(reachCtx)
	})

	vm.Migrations, vm.MigrationsErr = h.Store.MigrationState(ctx)
	vm.Processes, vm.ProcessesErr = h.Store.RecentProcesses(ctx)
	vm.Queue, vm.QueueErr = h.Store.QueueDepth(ctx)
	vm.FailedCount, vm.Failed, vm.FailedErr = h.Store.FailedRunsSince(ctx, vm.Now.Add(-failedRunsWindow), failedRunsListed)
	vm.Drops, vm.DropsErr = h.Store.MatchRateDrops(ctx)
	var dsErr error
	vm.DataSources, dsErr = h.Store.DataSourcesForDiagnostics(ctx)

	wg.Wait()
	vm.LibrarySources = libSources
	vm.DataSourcesErr = dsErr
	if dsErr == nil {
		vm.DataSourcesErr = libErr
	}
	return vm
}

// diagnosticsPage renders the checklist with the global webhook's form.
func (h *Handlers) diagnosticsPage(c echo.Context, status int, hook diagnostics.VM) error {
	f := h.Frame(c, "Diagnostics", "diagnostics", layouts.Crumb{Label: "Administration"}, layouts.Crumb{Label: "Diagnostics"})
	f.Subtitle = "A troubleshooting checklist: the database, the workers, the queue, failed runs, the libraries, data sources and match rates."
	return render(c, status, diagnostics.Page(f, hook))
}

// globalWebhook loads the diagnostics page's webhook form.
func (h *Handlers) globalWebhook(c echo.Context, vm *diagnostics.VM) error {
	hook, err := h.webhookVM(c, nil, globalWebhookPath,
		"The global webhook receives every event: the failed runs and match-rate drops of all lists and workflows, whoever owns them.")
	vm.Webhook = hook
	return err
}

// ShowDiagnostics shows Administration › Diagnostics.
func (h *Handlers) ShowDiagnostics(c echo.Context) error {
	vm := h.diagnose(c.Request().Context())
	if err := h.globalWebhook(c, &vm); err != nil {
		return err
	}
	return h.diagnosticsPage(c, http.StatusOK, vm)
}

// SaveGlobalWebhook sets the global webhook and shows its secret once.
func (h *Handlers) SaveGlobalWebhook(c echo.Context) error {
	vm := h.diagnose(c.Request().Context())
	if err := h.globalWebhook(c, &vm); err != nil {
		return err
	}
	return h.saveWebhook(c, &vm.Webhook, nil, func(status int) error { return h.diagnosticsPage(c, status, vm) })
}

// DeleteGlobalWebhook removes the global webhook.
func (h *Handlers) DeleteGlobalWebhook(c echo.Context) error {
	return h.deleteWebhook(c, nil, "/admin/diagnostics")
}
