package main

import (
	"context"
	"flag"
	"fmt"
	"io"
)

// tokenCommand is `audiencebridge token create --login L --name N`: it
// prints the new token alone on its last line, for scripts.
func tokenCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: token needs the subcommand create", errUsage)
	}
	var cfg Config
	fs := flag.NewFlagSet("token create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	b := newConfigFlags(fs, &cfg)
	b.database()
	var login, name string
	fs.StringVar(&login, "login", "", "the operator the token acts as")
	fs.StringVar(&name, "name", "", "what the token is for, e.g. \"CRM nightly export\"")
	if err := parseFlags(b, args[1:]); err != nil {
		return err
	}
	if login == "" || name == "" {
		return fmt.Errorf("%w: --login and --name are required", errUsage)
	}
	store, err := openStore(ctx, cfg.Database, newLogger("text", io.Discard))
	if err != nil {
		return err
	}
	defer store.Close()
	op, err := store.OperatorByLogin(ctx, login)
	if err != nil {
		return explain(err)
	}
	token, t, err := store.CreateAPIToken(ctx, cliActor(), op.ID, name)
	if err != nil {
		return explain(err)
	}
	fmt.Fprintf(stdout, "created API token %q (%s…) for %s; it is shown once, store it now:\n%s\n", t.Name, t.Prefix, op.Login, token)
	return nil
}
