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

	"audiencebridge/audiencesync"
	"audiencebridge/library"
	"audiencebridge/models"
	"audiencebridge/web"
	"audiencebridge/worker"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	b := newConfigFlags(fs, &cfg)
	b.server()
	if err := parseFlags(b, args); err != nil {
		return err
	}
	log := newLogger(cfg.LogFormat, stderr)

	store, err := openStore(ctx, cfg.Database, log)
	if err != nil {
		return err
	}
	defer store.Close()

	seeded := false
	if cfg.Demo {
		if seeded, err = store.SeedDemo(ctx); err != nil {
			return err
		}
		if err := store.SeedDemoData(ctx); err != nil {
			return err
		}
		if err := library.SeedDemo(ctx, store); err != nil {
			return err
		}
	}
	secret, ephemeral, err := cfg.sessionSecret()
	if err != nil {
		return err
	}
	// One embedded library serves the console, the API and the drop folder,
	// so a change from any of them reaches the sync engine's hook.
	embedded := library.NewEmbedded(store)
	sync, err := audiencesync.New(store, secret, embedded, log)
	if err != nil {
		return err
	}
	sync.Webhooks.AllowPrivate = cfg.AllowPrivateWebhooks || cfg.Demo
	metrics := web.NewMetrics(store)
	sync.Observer = audiencesync.Observers{metrics, &audiencesync.Notifier{Service: sync}}
	jobs, err := worker.NewStandard(store, sync, worker.Options{Logger: log, Work: !cfg.NoWorker})
	if err != nil {
		return err
	}
	if cfg.Demo {
		if err := sync.SeedDemo(ctx); err != nil {
			return err
		}
	}
	e, err := web.New(web.Options{Store: store, SessionSecret: secret, Demo: cfg.Demo, Logger: log, TrustProxy: cfg.TrustProxy,
		SessionPolicy: models.SessionPolicy{Idle: cfg.SessionIdle, MaxAge: cfg.SessionMaxAge}, Jobs: jobs, MaxUploadBytes: cfg.MaxUploadMB << 20,
		Library: embedded, Sync: sync, Metrics: metrics, MetricsToken: cfg.MetricsToken})
	if err != nil {
		return err
	}
	// The engine runs on its own context: on shutdown it is stopped after
	// the HTTP server, so running jobs can finish or be handed back.
	if !cfg.NoWorker {
		if err := jobs.Start(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("start the sync worker: %w", err)
		}
	}
	role := "console+worker"
	if cfg.NoWorker {
		role = "console"
	}
	stopBeat := beatProcess(ctx, store, role, log)
	defer stopBeat()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (--addr): %w", cfg.Addr, err)
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute}

	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	printBanner(stdout, scheme+"://"+displayAddr(ln.Addr()), store, cfg, seeded, ephemeral)

	if cfg.LibraryDrop != "" {
		proc := library.NewBatchProcessor(embedded)
		go func() {
			if err := library.WatchDropFolder(ctx, cfg.LibraryDrop, proc, log); err != nil && ctx.Err() == nil {
				log.Error("the library drop folder stopped", "folder", cfg.LibraryDrop, "error", err)
			}
		}()
		fmt.Fprintf(stdout, "  library drop folder: %s (batch files are processed into done/ or failed/)\n", cfg.LibraryDrop)
	}

	errc := make(chan error, 1)
	go func() {
		if cfg.TLSCert != "" {
			errc <- srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight", "deadline", cfg.ShutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	if cfg.NoWorker {
		return nil
	}
	log.Info("shutting down: stopping the worker, running jobs are finished or handed back")
	if err := jobs.Stop(shutdownCtx); err != nil {
		return fmt.Errorf("stop the worker: %w", err)
	}
	return nil
}

// displayAddr turns a wildcard listen address into one a browser can open.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func printBanner(w io.Writer, url string, store *models.Store, cfg Config, seeded, ephemeral bool) {
	where := cfg.Database
	if models.IsPostgresURL(where) {
		where = "PostgreSQL"
	}
	fmt.Fprintf(w, "\nAudience Bridge is running at %s\n", url)
	fmt.Fprintf(w, "  database: %s (%s)\n", where, store.Dialect())
	if cfg.Demo {
		if seeded {
			fmt.Fprintln(w, "  demo mode: created these operators on the empty database.")
		} else {
			fmt.Fprintln(w, "  demo mode: the database already had operators; the demo ones sign in with these passwords unless changed.")
		}
		fmt.Fprintf(w, "\n  Sign in at %s/login as:\n", url)
		for _, d := range models.DemoOperators {
			fmt.Fprintf(w, "    %-9s password %-15s %s\n", d.Login, d.Password, d.Note)
		}
		fmt.Fprintln(w)
	}
	if ephemeral {
		fmt.Fprintln(w, "  note: no --session-secret given, so a random one is used and sessions end when the console restarts.")
	}
	fmt.Fprintln(w, "  Press Ctrl+C to stop.")
}
