// Package pgtest gives tests an empty PostgreSQL schema of their own, in
// the database AGGREGATOR_TEST_POSTGRES names, dropped when the test ends.
// Without that variable a test skips with a message; with CI set as well
// it fails, so that CI never passes without the PostgreSQL tests. It is
// for tests only.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Env is the variable naming the test database, e.g.
// postgres://aggregator:aggregator@127.0.0.1/aggregator.
const Env = "AGGREGATOR_TEST_POSTGRES"

// URL returns the test database's URL, or skips (fails under CI) t.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(Env)
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set, and CI is: the PostgreSQL store must be tested in CI (.ci/run sets it)", Env)
		}
		t.Skipf("%s is not set (e.g. postgres://aggregator:aggregator@127.0.0.1/aggregator): PostgreSQL tests skipped", Env)
	}
	return u
}

// Schema creates an empty schema in the test database, dropped (with
// everything in it) when the test ends, and returns a URL whose
// connections use it (search_path). Close what uses it in a cleanup
// registered after Schema returns.
func Schema(t testing.TB) string {
	t.Helper()
	base := URL(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", Env, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "aggtest_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		admin.Close(ctx)
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
		admin.Close(ctx)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", Env, err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}
