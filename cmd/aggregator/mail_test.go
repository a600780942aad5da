package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/app/apptest"
	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/bolt"
)

// TestMailCommands: "mail export" prints a list as CSV and "mail remove"
// erases an address from every list, on the database directly and, while
// serve holds it, through the admin API.
func TestMailCommands(t *testing.T) {
	o := newOrigin(t)
	cfgPath := writeConfig(t, o.URL, "")
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(cfg.Storage.Path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, s := range []store.Subscriber{
		{Channel: "the-peninsula", Address: "b@example.org", Created: at},
		{Channel: "the-peninsula", Address: "a@example.org", Created: at},
		{Channel: "think-tanks", Address: "a@example.org", Created: at},
		{Channel: "think-tanks", Address: "c@example.org", Created: at},
	} {
		if _, _, err := db.AddSubscriber(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ConfirmSubscriber(ctx, "the-peninsula", "b@example.org", at, 0); err != nil {
		t.Fatal(err)
	}
	db.Close()

	var out, errb bytes.Buffer
	if err := run(ctx, []string{"mail", "export", "the-peninsula", "-config", cfgPath}, noenv, &out, &errb); err != nil {
		t.Fatalf("mail export: %v\n%s", err, errb.String())
	}
	want := "address,state,digest,created,confirmed,last_sent,sends,bounces\n" +
		"a@example.org,pending,,2026-01-02T03:04:05Z,,,0,0\n" +
		"b@example.org,confirmed,,2026-01-02T03:04:05Z,2026-01-02T03:04:05Z,,0,0\n"
	if out.String() != want {
		t.Errorf("mail export:\n%s\nwant\n%s", out.String(), want)
	}
	out.Reset()
	if err := run(ctx, []string{"mail", "remove", "-config", cfgPath, "a@EXAMPLE.org"}, noenv, &out, &errb); err != nil {
		t.Fatalf("mail remove: %v", err)
	}
	if got := out.String(); !strings.Contains(got, "removed from 2 lists: the-peninsula, think-tanks") {
		t.Errorf("mail remove said %q", got)
	}

	// While serve holds the database: through the admin API.
	t.Setenv("AGGREGATOR_ADMIN_TOKEN", "tok")
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stdout, stderr := &apptest.SyncBuffer{}, &apptest.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(sctx, []string{"serve", "-config", cfgPath, "-log-format", "json"}, os.Getenv, stdout, stderr)
	}()
	base := waitListeningJSON(t, stdout, stderr, done)
	env := func(k string) string {
		if k == "AGGREGATOR_ADDR" {
			return strings.TrimPrefix(base, "http://")
		}
		return os.Getenv(k)
	}
	out.Reset()
	if err := run(ctx, []string{"mail", "remove", "-config", cfgPath, "c@example.org"}, env, &out, &errb); err != nil {
		t.Fatalf("mail remove through the server: %v", err)
	}
	if !strings.Contains(out.String(), "removed from 1 lists: think-tanks") {
		t.Errorf("remote mail remove said %q", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"mail", "export", "-config", cfgPath, "think-tanks"}, env, &out, &errb); err != nil {
		t.Fatalf("mail export through the server: %v", err)
	}
	if got := out.String(); got != "address,state,digest,created,confirmed,last_sent,sends,bounces\n" {
		t.Errorf("think-tanks after both removals:\n%s", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
