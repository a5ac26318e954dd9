// Command audiencebridge is the Audience Bridge console, API and sync
// worker in one binary, with the administration commands beside them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"audiencebridge/models"
	"audiencebridge/worker"
)

const usage = `Audience Bridge: share audiences with the Experience Cloud in seconds.

Usage:
  audiencebridge [serve] [flags]      console, API and sync worker (the default; --no-worker: console and API only)
  audiencebridge worker [flags]       the sync worker alone, beside other processes on one PostgreSQL database
  audiencebridge migrate [flags]      apply database migrations and exit
  audiencebridge user create --login L --password P --role admin|marketer [--entitlement E]...
  audiencebridge user grant  --login L --entitlement E
  audiencebridge user revoke --login L --entitlement E
  audiencebridge user passwd --login L [--password P]   (reads the password from standard input when omitted)
  audiencebridge token create --login L --name N        (prints the new API token alone on its last line)

Entitlements: audience-library, aam-admin.
Run "audiencebridge COMMAND -h" for the flags of a command.
`

// errUsage marks mistakes in the command line, which exit with status 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "audiencebridge:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "audiencebridge:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, stdout, stderr)
	case "worker":
		return workerCommand(ctx, args, stdout, stderr)
	case "migrate":
		return migrate(ctx, args, stdout, stderr)
	case "user":
		return userCommand(ctx, args, stdin, stdout, stderr)
	case "token":
		return tokenCommand(ctx, args, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}

// parseFlags parses a command's flags, turning flag errors into usage errors.
func parseFlags(b *configFlags, args []string) error {
	if err := b.parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %s", errUsage, err.Error())
	}
	return nil
}

// openStore opens the database and applies pending migrations.
func openStore(ctx context.Context, dsn string, log *slog.Logger) (*models.Store, error) {
	store, err := models.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	applied, err := store.Migrate(ctx)
	if err == nil {
		err = worker.Migrate(ctx, store)
	}
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	for _, m := range applied {
		log.Info("applied migration", "version", m.Version, "name", m.Name)
	}
	return store, nil
}

func newLogger(format string, w io.Writer) *slog.Logger {
	isTerminal := false
	if f, ok := w.(*os.File); ok {
		isTerminal = term.IsTerminal(int(f.Fd()))
	}
	if format == "json" || (format == "auto" && !isTerminal) {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg Config
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	b := newConfigFlags(fs, &cfg)
	b.database()
	if err := parseFlags(b, args); err != nil {
		return err
	}
	store, err := models.Open(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer store.Close()
	applied, err := store.Migrate(ctx)
	if err != nil {
		return err
	}
	for _, m := range applied {
		fmt.Fprintf(stdout, "applied %04d_%s\n", m.Version, m.Name)
	}
	if err := worker.Migrate(ctx, store); err != nil {
		return err
	}
	st, err := store.MigrationState(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database is up to date (%d migrations applied, %s)\n", len(st.Applied), store.Dialect())
	return nil
}
