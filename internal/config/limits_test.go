package config

import (
	"strings"
	"testing"
)

func TestLimits(t *testing.T) {
	t.Run("accepted", func(t *testing.T) {
		c, err := Parse(strings.NewReader("server: {max_connections: 100, max_connections_per_ip: 10}\nstorage: {max_size: 64MiB}\nfetch: {future_dates: hide}\n"), "feeds.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := c.Server.Connections(), 100; got != want {
			t.Errorf("connections=%d, want %d", got, want)
		}
		if got, want := c.Server.ConnectionsPerIP(), 10; got != want {
			t.Errorf("connections per IP=%d, want %d", got, want)
		}
		if got, want := c.Storage.MaxSize, int64(64<<20); got != want {
			t.Errorf("max_size=%d, want %d", got, want)
		}
		if got, want := c.Fetch.FutureDates, FutureHide; got != want {
			t.Errorf("future_dates=%q, want %q", got, want)
		}
	})
	t.Run("defaults", func(t *testing.T) {
		c := Default()
		if got, want := c.Server.Connections(), DefaultMaxConnections; got != want {
			t.Errorf("connections=%d, want %d", got, want)
		}
		if got, want := c.Server.ConnectionsPerIP(), DefaultMaxConnectionsPerIP; got != want {
			t.Errorf("connections per IP=%d, want %d", got, want)
		}
		if c.Storage.MaxSize != 0 || c.Fetch.FutureDates != "" {
			t.Errorf("storage=%+v future_dates=%q, want no cap and clamp", c.Storage, c.Fetch.FutureDates)
		}
	})
	for name, tc := range map[string]struct{ yaml, want string }{
		"negative connections":   {"server: {max_connections: -1}\n", "feeds.yaml:1: server.max_connections: must be between 1 and"},
		"per IP over the total":  {"server: {max_connections: 10, max_connections_per_ip: 11}\n", "feeds.yaml:1: server.max_connections_per_ip: must be between 1 and server.max_connections (10)"},
		"negative per IP":        {"server: {max_connections_per_ip: -1}\n", "server.max_connections_per_ip: must be between 1 and"},
		"negative subscriptions": {"publish: {max_subscriptions: -1}\n", "feeds.yaml:1: publish.max_subscriptions: must be between 1 and"},
		"tiny database":          {"storage: {max_size: 10KB}\n", "feeds.yaml:1: storage.max_size: must be 0 (no cap) or at least 1MiB"},
		"unknown future mode":    {"fetch: {future_dates: drop}\n", `feeds.yaml:1: fetch.future_dates: must be "clamp" or "hide" (got "drop")`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.yaml), "feeds.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err=%v, want %q", err, tc.want)
			}
		})
	}
}
