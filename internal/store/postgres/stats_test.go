package postgres

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/postgres/pgtest"
)

// TestSubscriberDaysFromVersion3: a database of schema version 3 kept one
// row per channel and day; opened by this program (version 4 on) the row is
// that day's settled part, and instances' parts go beside it.
func TestSubscriberDaysFromVersion3(t *testing.T) {
	u := pgtest.Schema(t)
	conn, err := pgx.Connect(bg, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(bg)
	stmts := []string{`CREATE TABLE schema_version (version int NOT NULL)`, `INSERT INTO schema_version VALUES (3)`}
	for _, m := range migrations[:3] {
		stmts = append(stmts, m...)
	}
	for _, s := range stmts {
		if _, err := conn.Exec(bg, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	if _, err := conn.Exec(bg, `INSERT INTO subscriber_days (h, channel, day, body) VALUES ($1, 'news', '2026-01-01', $2)`,
		hashOf("news"), []byte(`{"requests":10,"not_modified":4,"clients":3,"reported":120}`)); err != nil {
		t.Fatal(err)
	}
	db, err := Open(bg, u, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.SaveSubscriberParts(bg, []store.SubscriberPart{{Channel: "news", Day: "2026-01-01", Instance: "new", Requests: 1}}); err != nil {
		t.Fatal(err)
	}
	got, err := db.SubscriberParts(bg, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Instance != "" || got[0].Requests != 10 || got[0].Clients != 3 || got[0].Reported != 120 || got[1].Instance != "new" {
		t.Fatalf("SubscriberParts after the upgrade = %+v", got)
	}
	days, err := store.MergeSubscriberParts(got)
	if err != nil || len(days) != 1 || days[0].Requests != 11 || days[0].Subscribers() != 123 {
		t.Errorf("merged = %+v, %v", days, err)
	}
}
