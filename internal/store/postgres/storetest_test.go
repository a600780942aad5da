package postgres

import (
	"context"
	"os"
	"testing"

	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/postgres/pgtest"
	"github.com/kpolicy/aggregator/internal/store/storetest"
)

func openURL(t testing.TB, u string, o storetest.Options) *DB {
	t.Helper()
	db, err := Open(context.Background(), u, Options{Now: o.Now, TitleWindow: o.TitleWindow})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

// TestMain lets the test binary be the crash case's writer (storetest.Child).
func TestMain(m *testing.M) {
	storetest.Child(func(u string, o storetest.Options) (store.Store, error) {
		return Open(context.Background(), u, Options{Now: o.Now, TitleWindow: o.TitleWindow})
	})
	os.Exit(m.Run())
}

// TestContract runs the conformance suite against PostgreSQL, each case
// in a schema of its own.
func TestContract(t *testing.T) {
	pgtest.URL(t)
	urls := map[*DB]string{}
	storetest.Run(t, storetest.Backend{
		Open: func(t testing.TB, o storetest.Options) store.Store {
			u := pgtest.Schema(t)
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
			urls[again] = urls[db]
			t.Cleanup(func() { again.Close() })
			return again
		},
		Share: func(t testing.TB, s store.Store, o storetest.Options) store.Store {
			other := openURL(t, urls[s.(*DB)], o)
			t.Cleanup(func() { other.Close() })
			return other
		},
		Locate: func(t testing.TB, s store.Store) string { return urls[s.(*DB)] },
	})
}
