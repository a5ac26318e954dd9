package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"

	"golang.org/x/term"

	"audiencebridge/models"
)

// listFlag collects a repeated flag such as --entitlement.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// cliActor names who ran a command in the audit log.
func cliActor() models.Actor {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname() // an empty host name still identifies the user
	return models.SystemActor("cli:" + name + "@" + host)
}

func userCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: user needs a subcommand: create, grant, revoke or passwd", errUsage)
	}
	sub, args := args[0], args[1:]
	var cfg Config
	fs := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	b := newConfigFlags(fs, &cfg)
	b.database()
	var login, password, role, name, email string
	var ents listFlag
	fs.StringVar(&login, "login", "", "the operator's login")
	switch sub {
	case "create":
		fs.StringVar(&password, "password", "", "initial password (at least 8 characters)")
		fs.StringVar(&role, "role", "", "admin or marketer")
		fs.StringVar(&name, "name", "", "full name")
		fs.StringVar(&email, "email", "", "e-mail address")
		fs.Var(&ents, "entitlement", "entitlement to grant: audience-library or aam-admin (repeatable)")
	case "grant", "revoke":
		fs.Var(&ents, "entitlement", "audience-library or aam-admin")
	case "passwd":
		fs.StringVar(&password, "password", "", "new password; read from standard input when omitted")
	default:
		return fmt.Errorf("%w: unknown user subcommand %q: use create, grant, revoke or passwd", errUsage, sub)
	}
	if err := parseFlags(b, args); err != nil {
		return err
	}
	if login == "" {
		return fmt.Errorf("%w: --login is required", errUsage)
	}
	store, err := openStore(ctx, cfg.Database, newLogger("text", io.Discard))
	if err != nil {
		return err
	}
	defer store.Close()
	actor := cliActor()

	switch sub {
	case "create":
		if role == "" {
			return fmt.Errorf("%w: --role is required: admin or marketer", errUsage)
		}
		op, err := store.CreateOperator(ctx, actor, models.OperatorInput{Login: login, Password: password, Role: role,
			Name: name, Email: email, Entitlements: ents})
		if err != nil {
			return explain(err)
		}
		fmt.Fprintf(stdout, "created %s %s with entitlements: %s\n", op.Role, op.Login, entitlementList(op))
	case "grant", "revoke":
		if len(ents) != 1 {
			return fmt.Errorf("%w: give exactly one --entitlement: audience-library or aam-admin", errUsage)
		}
		ent, err := models.ParseEntitlement(ents[0])
		if err != nil {
			return explain(err)
		}
		op, err := store.OperatorByLogin(ctx, login)
		if err != nil {
			return explain(err)
		}
		if op, err = store.SetEntitlement(ctx, actor, op.ID, ent, sub == "grant"); err != nil {
			return explain(err)
		}
		fmt.Fprintf(stdout, "%s now has entitlements: %s\n", op.Login, entitlementList(op))
	case "passwd":
		op, err := store.OperatorByLogin(ctx, login)
		if err != nil {
			return explain(err)
		}
		if password == "" {
			if password, err = readPassword(stdin, stderr); err != nil {
				return err
			}
		}
		if err := store.SetPassword(ctx, actor, op.ID, password); err != nil {
			return explain(err)
		}
		fmt.Fprintf(stdout, "password of %s changed; its sessions have ended\n", op.Login)
	}
	return nil
}

func entitlementList(op *models.Operator) string {
	if len(op.Entitlements) == 0 {
		return "none"
	}
	parts := make([]string, len(op.Entitlements))
	for i, e := range op.Entitlements {
		parts[i] = string(e)
	}
	return strings.Join(parts, ", ")
}

// explain turns domain errors into messages naming the flag to fix.
func explain(err error) error {
	var list models.ValidationErrors
	if errors.As(err, &list) {
		msgs := make([]string, len(list))
		for i, v := range list {
			msgs[i] = "--" + v.Field + ": " + v.Message
		}
		return fmt.Errorf("%w: %s", errUsage, strings.Join(msgs, "; "))
	}
	var one *models.ValidationError
	if errors.As(err, &one) {
		return fmt.Errorf("%w: --%s: %s", errUsage, one.Field, one.Message)
	}
	return err
}

func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "New password: ")
		first, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(stderr, "Repeat it: ")
		second, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(first) != string(second) {
			return "", fmt.Errorf("%w: the two passwords differ", errUsage)
		}
		return string(first), nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
