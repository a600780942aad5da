package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store/postgres/pgtest"
	"github.com/kpolicy/aggregator/internal/store/storetest"
)

// TestCancelDuringCommit ends a SavePoll's context while its COMMIT runs
// (made slow by a deferred trigger that sleeps at commit and ignores the
// cancel request pgx sends, as a COMMIT writing its record does): the poll
// must be whole and SavePoll return nil, or be absent and SavePoll fail,
// never stored behind an error. storetest's CancelledPoll can only fall in
// that window (a COMMIT's few milliseconds) by chance.
func TestCancelDuringCommit(t *testing.T) {
	u := pgtest.Schema(t)
	db := openURL(t, u, storetest.Options{Now: fixed})
	t.Cleanup(func() { db.Close() })
	conn, err := pgx.Connect(bg, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(bg)
	if _, err := conn.Exec(bg, `CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS
			$$ BEGIN
				BEGIN PERFORM pg_sleep(0.5);
				EXCEPTION WHEN query_canceled THEN NULL; -- a commit past the point of cancelling
				END;
				RETURN NULL;
			END $$;
		CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT OR UPDATE ON sources
			DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	db.beforeCommit = func(string) { time.AfterFunc(100*time.Millisecond, cancel) }
	items := []feed.Item{newsItem("a", "k1", "https://a.example/1", "one", 1), newsItem("a", "k2", "https://a.example/2", "two", 2)}
	_, err = db.SavePoll(ctx, "a", items, state("a"))
	db.beforeCommit = nil
	// A COMMIT the client gave up on still runs on the server: wait for
	// it to end before reading.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var busy int
		if err := conn.QueryRow(bg, `SELECT count(*) FROM pg_stat_activity
				WHERE pid <> pg_backend_pid() AND wait_event = 'PgSleep' AND query ILIKE 'commit%'`).Scan(&busy); err != nil {
			t.Fatal(err)
		}
		if busy == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the COMMIT still runs after 10 s")
		}
	}
	n, cerr := db.SourceItemCount(bg, "a")
	if cerr != nil {
		t.Fatal(cerr)
	}
	switch {
	case err != nil && n != 0:
		t.Fatalf("SavePoll failed (%v), and its %d items are stored", err, n)
	case err == nil && n != len(items):
		t.Fatalf("SavePoll returned nil, and %d items are stored, want %d", n, len(items))
	}
	t.Logf("SavePoll: %v; %d items stored", err, n)
}
