// Package dbtest gives each test a fresh, migrated database of its own: an
// SQLite file in the test's temporary folder, or, when AB_TEST_POSTGRES names
// a PostgreSQL server, a new database on it that is dropped afterwards.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"audiencebridge/models"
)

// EnvPostgres names the variable holding a PostgreSQL URL for tests, e.g.
// postgres://postgres@localhost:55432/postgres?sslmode=disable.
const EnvPostgres = "AB_TEST_POSTGRES"

// DSN creates an empty database for the test and returns its --database value.
func DSN(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvPostgres)
	if admin == "" {
		return filepath.Join(t.TempDir(), "audiencebridge.db")
	}
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := "abtest_" + hex.EncodeToString(b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to %s: %v", EnvPostgres, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			t.Errorf("connect to drop test database: %v", err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvPostgres, err)
	}
	u.Path = "/" + name
	return u.String()
}

// New opens and migrates a fresh database for the test.
func New(t testing.TB) *models.Store {
	t.Helper()
	store, err := models.Open(context.Background(), DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	if _, err := store.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return store
}

// Dialect names the database the tests run on, for messages.
func Dialect() models.Dialect {
	if os.Getenv(EnvPostgres) != "" {
		return models.Postgres
	}
	return models.SQLite
}
