package config

// Values of fetch.future_dates.
const (
	// FutureClamp stores an item dated ahead of now as dated now. It is
	// the default: an empty FutureDates means the same.
	FutureClamp = "clamp"
	// FutureHide leaves an item dated ahead of now out of every poll until
	// its date has come.
	FutureHide = "hide"
)

// Bounds of the limits that keep a busy or hostile world from exhausting
// the program.
const (
	DefaultMaxConnections      = 4096
	DefaultMaxConnectionsPerIP = 64
	maxMaxConnections          = 1 << 20
	minMaxSize                 = 1 << 20 // 1 MiB: bbolt needs a few pages, a poll a few more
	maxSubscriptions           = 1_000_000
)

// limits checks server.max_connections(_per_ip), storage.max_size and
// fetch.future_dates.
func (v *validator) limits(c Config) {
	if n := c.Server.MaxConnections; n < 0 || n > maxMaxConnections {
		v.add("server.max_connections", "must be between 1 and %d, or 0 for the default %d (got %d)", maxMaxConnections, DefaultMaxConnections, n)
	}
	if n := c.Server.MaxConnectionsPerIP; n < 0 || n > c.Server.Connections() {
		v.add("server.max_connections_per_ip", "must be between 1 and server.max_connections (%d), or 0 for the default %d (got %d)", c.Server.Connections(), DefaultMaxConnectionsPerIP, n)
	}
	if n := c.Publish.MaxSubscriptions; n < 0 || n > maxSubscriptions {
		v.add("publish.max_subscriptions", "must be between 1 and %d, or 0 for the default (got %d)", maxSubscriptions, n)
	}
	if n := c.Publish.MaxSubscriptionsPerTopic; n < 0 || n > maxSubscriptions {
		v.add("publish.max_subscriptions_per_topic", "must be between 1 and %d, or 0 for the default (got %d)", maxSubscriptions, n)
	}
	if n := c.Storage.MaxSize; n != 0 && n < minMaxSize {
		v.add("storage.max_size", "must be 0 (no cap) or at least 1MiB (got %d bytes)", n)
	}
	switch c.Fetch.FutureDates {
	case "", FutureClamp, FutureHide:
	default:
		v.add("fetch.future_dates", "must be %q or %q (got %q)", FutureClamp, FutureHide, c.Fetch.FutureDates)
	}
}

// Connections returns the cap on open HTTP connections: MaxConnections, or
// DefaultMaxConnections when it is 0.
func (s Server) Connections() int {
	if s.MaxConnections > 0 {
		return s.MaxConnections
	}
	return DefaultMaxConnections
}

// ConnectionsPerIP returns the cap on one client's open HTTP connections:
// MaxConnectionsPerIP, or DefaultMaxConnectionsPerIP when it is 0, at most
// Connections.
func (s Server) ConnectionsPerIP() int {
	if s.MaxConnectionsPerIP > 0 {
		return s.MaxConnectionsPerIP
	}
	return min(DefaultMaxConnectionsPerIP, s.Connections())
}
