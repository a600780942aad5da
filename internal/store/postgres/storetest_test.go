package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/storetest"
)

// testURL returns the database the tests use, from AGGREGATOR_TEST_POSTGRES.
// Without it a test skips, unless CI is set: then it fails, so that CI
// never passes without running them.
func testURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("AGGREGATOR_TEST_POSTGRES")
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("AGGREGATOR_TEST_POSTGRES is not set, and CI is: the PostgreSQL store must be tested in CI (.ci/run sets it)")
		}
		t.Skip("AGGREGATOR_TEST_POSTGRES is not set (e.g. postgres://aggregator:aggregator@127.0.0.1/aggregator): PostgreSQL store tests skipped")
	}
	return u
}

// freshSchema creates an empty schema in the test database, dropped when
// the test ends, and returns a URL whose connections use it.
func freshSchema(t testing.TB) string {
	t.Helper()
	base := testURL(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to AGGREGATOR_TEST_POSTGRES: %v", err)
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
		t.Fatalf("AGGREGATOR_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

func openURL(t testing.TB, u string, o storetest.Options) *DB {
	t.Helper()
	db, err := Open(context.Background(), u, Options{Now: o.Now, TitleWindow: o.TitleWindow})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

// TestContract runs the conformance suite against PostgreSQL, each case
// in a schema of its own.
func TestContract(t *testing.T) {
	testURL(t)
	urls := map[*DB]string{}
	storetest.Run(t, storetest.Backend{
		Open: func(t testing.TB, o storetest.Options) store.Store {
			u := freshSchema(t)
			db := openURL(t, u, o)
			urls[db] = u
			t.Cleanup(func() { db.Close() }) // before the schema is dropped
			return db
		},
		Reopen: func(t testing.TB, s store.Store, o storetest.Options) store.Store {
			db := s.(*DB)
			if err := db.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			again := openURL(t, urls[db], o)
			t.Cleanup(func() { again.Close() })
			return again
		},
	})
}
