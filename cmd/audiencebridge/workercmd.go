package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"audiencebridge/audiencesync"
	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/web"
	"audiencebridge/worker"
)

// workerCommand runs the sync worker alone, for deployments that run
// several processes on one PostgreSQL database. It serves /healthz,
// /readyz and /metrics on --addr.
func workerCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg Config
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	b := newConfigFlags(fs, &cfg)
	b.worker()
	if err := parseFlags(b, args); err != nil {
		return err
	}
	if !models.IsPostgresURL(cfg.Database) {
		return fmt.Errorf("%w: the worker command needs a PostgreSQL database (--database postgres://…): on SQLite, run one process, `serve`, which runs the worker itself", errUsage)
	}
	log := newLogger(cfg.LogFormat, stderr)
	store, err := openStore(ctx, cfg.Database, log)
	if err != nil {
		return err
	}
	defer store.Close()
	embedded := library.NewEmbedded(store)
	sync, err := audiencesync.New(store, []byte(cfg.SessionSecret), embedded, log)
	if err != nil {
		return err
	}
	sync.Webhooks.AllowPrivate = cfg.AllowPrivateWebhooks || cfg.Demo
	metrics := web.NewMetrics(store)
	sync.Observer = audiencesync.Observers{metrics, &audiencesync.Notifier{Service: sync}}
	jobs, err := worker.NewStandard(store, sync, worker.Options{Logger: log, Work: true})
	if err != nil {
		return err
	}
	if err := jobs.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start the sync worker: %w", err)
	}
	stopBeat := beatProcess(ctx, store, "worker", log)

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	web.RegisterProbes(e, store, metrics)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (--addr): %w", cfg.Addr, err)
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("the health and metrics server stopped", "error", err)
		}
	}()
	fmt.Fprintf(stdout, "Audience Bridge worker is running on PostgreSQL; health and metrics at http://%s (/healthz, /readyz, /metrics)\n", displayAddr(ln.Addr()))

	<-ctx.Done()
	log.Info("shutting down: the worker stops taking jobs; running ones finish or are handed back", "deadline", cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err = jobs.Stop(shutdownCtx)
	stopBeat()
	_ = srv.Shutdown(shutdownCtx)
	if err != nil {
		return fmt.Errorf("stop the worker: %w", err)
	}
	return nil
}
