package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"audiencebridge/models"
	"audiencebridge/models/dbtest"
)

func runCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String() + errOut.String(), err
}

func TestUserCommands(t *testing.T) {
	dsn := dbtest.DSN(t)
	out, err := runCLI(t, "", "user", "create", "--database", dsn, "--login", "Ada", "--password", "long enough",
		"--role", "admin", "--entitlement", "audience-library", "--entitlement", "aam-admin")
	if err != nil || !strings.Contains(out, "created admin ada with entitlements: audience-library, aam-admin") {
		t.Fatalf("create: %v %s", err, out)
	}
	out, err = runCLI(t, "", "user", "create", "--database", dsn, "--login", "bob", "--password", "x", "--role", "root")
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "--role") || !strings.Contains(err.Error(), "--password") {
		t.Fatalf("invalid create: %v %s", err, out)
	}
	if _, err := runCLI(t, "", "user", "create", "--database", dsn, "--login", "ada", "--password", "long enough", "--role", "admin"); !errors.Is(err, models.ErrConflict) {
		t.Fatalf("duplicate: %v", err)
	}
	if out, err := runCLI(t, "", "user", "revoke", "--database", dsn, "--login", "ada", "--entitlement", "aam-admin"); err != nil ||
		!strings.Contains(out, "ada now has entitlements: audience-library") {
		t.Fatalf("revoke: %v %s", err, out)
	}
	if out, err := runCLI(t, "", "user", "grant", "--database", dsn, "--login", "ada", "--entitlement", "aam-admin"); err != nil ||
		!strings.Contains(out, "audience-library, aam-admin") {
		t.Fatalf("grant: %v %s", err, out)
	}
	if _, err := runCLI(t, "", "user", "grant", "--database", dsn, "--login", "ada", "--entitlement", "root"); !errors.Is(err, errUsage) {
		t.Fatalf("unknown entitlement: %v", err)
	}
	if _, err := runCLI(t, "", "user", "grant", "--database", dsn, "--login", "nobody", "--entitlement", "aam-admin"); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("unknown login: %v", err)
	}
	if out, err := runCLI(t, "a new password\n", "user", "passwd", "--database", dsn, "--login", "ada"); err != nil || !strings.Contains(out, "password of ada changed") {
		t.Fatalf("passwd: %v %s", err, out)
	}

	store, err := models.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Authenticate(context.Background(), "ada", "a new password", "127.0.0.1"); err != nil {
		t.Fatalf("sign in with the new password: %v", err)
	}
	page, err := store.ListAudit(context.Background(), models.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	// create, revoke, grant, passwd — each by the command line.
	if page.Total != 4 || !strings.HasPrefix(page.Items[0].Actor, "cli:") {
		t.Fatalf("audit = %d records, newest by %q", page.Total, page.Items[0].Actor)
	}
}

func TestMigrateCommand(t *testing.T) {
	dsn := dbtest.DSN(t)
	out, err := runCLI(t, "", "migrate", "--database", dsn)
	if err != nil || !strings.Contains(out, "applied 0001_operators") || !strings.Contains(out, "up to date") {
		t.Fatalf("first migrate: %v %s", err, out)
	}
	out, err = runCLI(t, "", "migrate", "--database", dsn)
	if err != nil || strings.Contains(out, "applied 0001") {
		t.Fatalf("second migrate: %v %s", err, out)
	}
}

func TestConfigurationIsValidated(t *testing.T) {
	cases := []struct {
		args []string
		env  map[string]string
		want []string
	}{
		{[]string{"serve", "--addr", "nonsense"}, nil, []string{"--addr (AB_ADDR)", "--session-secret (AB_SESSION_SECRET) is required"}},
		{[]string{"serve", "--session-secret", "short"}, nil, []string{"at least 32 characters"}},
		{[]string{"serve", "--demo", "--session-idle", "soon"}, nil, []string{"--session-idle (AB_SESSION_IDLE) must be a positive duration"}},
		{[]string{"serve", "--demo", "--tls-cert", "c.pem"}, nil, []string{"--tls-key go together"}},
		{[]string{"serve"}, map[string]string{"AB_DEMO": "sometimes"}, []string{"--demo (AB_DEMO) must be true or false"}},
		{[]string{"serve", "--demo", "--database", ""}, nil, []string{"--database (AB_DATABASE)"}},
		{[]string{"frobnicate"}, nil, []string{`unknown command "frobnicate"`}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := runCLI(t, "", tc.args...)
			if !errors.Is(err, errUsage) {
				t.Fatalf("err = %v, want a usage error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
		})
	}
}

func TestServeDemoPrintsHowToSignIn(t *testing.T) {
	dsn := dbtest.DSN(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--demo", "--database", dsn, "--addr", addr, "--log-format", "json"}, strings.NewReader(""), &out, &out)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "Press Ctrl+C") {
		if time.Now().After(deadline) {
			t.Fatalf("no banner: %s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve returned %v", err)
	}
	for _, d := range models.DemoOperators {
		if !strings.Contains(out.String(), d.Login) || !strings.Contains(out.String(), d.Password) {
			t.Errorf("banner lacks %s: %s", d.Login, out.String())
		}
	}
	if !strings.Contains(out.String(), "http://"+addr+"/login") {
		t.Errorf("banner lacks the sign-in URL: %s", out.String())
	}
	store, err := models.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, d := range models.DemoOperators {
		op, err := store.Authenticate(context.Background(), d.Login, d.Password, "127.0.0.1")
		if err != nil || op.Role != d.Role || len(op.Entitlements) != len(d.Entitlements) {
			t.Errorf("demo operator %s: %+v %v", d.Login, op, err)
		}
	}
}

func TestTokenCreate(t *testing.T) {
	dsn := dbtest.DSN(t)
	if _, err := runCLI(t, "", "user", "create", "--database", dsn, "--login", "ada", "--password", "long enough", "--role", "marketer"); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "", "token", "create", "--database", dsn, "--login", "ada", "--name", "nightly export")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	token := lines[len(lines)-1]
	if !strings.HasPrefix(token, models.TokenPrefix) || strings.Contains(token, " ") {
		t.Fatalf("last line is not the token alone: %q", out)
	}
	store, err := models.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	op, err := store.TokenOperator(context.Background(), token)
	if err != nil || op.Login != "ada" {
		t.Fatalf("token acts as %v, %v", op, err)
	}
	if _, err := runCLI(t, "", "token", "create", "--database", dsn, "--login", "nobody", "--name", "x"); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("unknown login: %v", err)
	}
	if _, err := runCLI(t, "", "token", "create", "--database", dsn, "--login", "ada"); !errors.Is(err, errUsage) {
		t.Fatalf("missing name: %v", err)
	}
}
