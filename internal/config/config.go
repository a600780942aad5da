// Package config owns feeds.yaml: the Config types, their defaults, strict
// decoding that names every problem by its YAML path and line, validation,
// and non-fatal advice (Warnings).
//
// It reads only what it is given: it does no network I/O, never polls or
// stores anything, and keeps no package-level state. Other packages receive
// a validated Config and trust it.
package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// Defaults applied by Default and by Parse for keys a file leaves out.
const (
	DefaultListen       = ":8080"
	DefaultBaseURL      = "http://localhost:8080"
	DefaultStoragePath  = "data/aggregator.db"
	DefaultInterval     = time.Hour
	DefaultTimeout      = 20 * time.Second
	DefaultMaxBody      = 10 << 20 // 10 MiB
	DefaultConcurrency  = 8
	DefaultChannelLimit = 50
	DefaultTitleWindow  = 48 * time.Hour
	DefaultMaxInterval  = 24 * time.Hour
	DefaultHostGap      = time.Second
	DefaultLease        = 30 * time.Second
	DefaultMaxAge       = 5 * time.Minute
	DefaultPageSize     = 50
	DefaultCacheSize    = 64 << 20
)

// Config is the whole of feeds.yaml. After Parse succeeds every source has a
// non-zero Interval, every channel a Limit in [1, 1000], and Server.BaseURL
// has no trailing slash.
type Config struct {
	Server   Server
	Storage  Storage
	Fetch    Fetch
	Dedupe   Dedupe
	Sources  []feed.Source
	Channels []feed.Channel
	Publish  Publish
	Mail     Mail
	// Site is the site's identity: its title, description, language and
	// footer. After Parse, Title and Language are set and Footer is
	// sanitised.
	Site feed.Site

	file fileFacts // what Parse saw of the file, for CheckReload
}

// Publish is how the channels are served to feed readers.
type Publish struct {
	MaxAge   time.Duration // Cache-Control max-age of subscription documents
	PageSize int           // items of a full archive page (RFC 5005)
	Hubs     []string      // external WebSub hubs, advertised and pinged on change
	// CacheSize bounds the rendered documents kept in memory, in bytes.
	CacheSize int64
	// MaxSubscriptions and MaxSubscriptionsPerTopic cap the WebSub
	// subscriptions the hub keeps (in all, and per feed document); 0 means
	// websub.DefaultMaxSubscriptions(PerTopic), 10,000 and 1,000.
	MaxSubscriptions         int
	MaxSubscriptionsPerTopic int
}

// Server is where the aggregator listens and the public URL it is reached at.
type Server struct {
	Listen  string // host:port for net.Listen, e.g. ":8080"
	BaseURL string // absolute http(s) URL used in published links, without trailing slash
	// MaxConnections caps the HTTP connections open at once (readers and
	// idle keep-alives); further connections wait to be accepted. 0 means
	// DefaultMaxConnections.
	MaxConnections int
	// MaxConnectionsPerIP caps the HTTP connections of one client (an IPv4
	// address, an IPv6 /64); further ones are closed at once. 0 means
	// DefaultMaxConnectionsPerIP (or MaxConnections if that is smaller).
	MaxConnectionsPerIP int
}

// DefaultSearchPath is where the search index of a PostgreSQL store lives
// when storage.search is not set.
const DefaultSearchPath = "data/aggregator.search"

// Storage says where the database lives.
type Storage struct {
	// Path is the bbolt file (its directory is created by the store) or a
	// postgres:// / postgresql:// URL.
	Path string
	// Search is the directory of this instance's search index; "" puts it
	// beside a bbolt file (Path + ".search") and, for a PostgreSQL URL, at
	// DefaultSearchPath.
	Search string
	// Keep is the retention of every source that does not set its own
	// keep.items or keep.days.
	Keep feed.Retention
	// MaxSize caps the database file in bytes; 0 means no cap. A poll that
	// would grow the file past it fails and is recorded on its source.
	MaxSize int64
}

// IsPostgres reports whether Path names a PostgreSQL database, by its
// form: a postgres:// or postgresql:// URL (any case). Anything else is a
// bbolt file path. It is the one place that tells the two apart.
func (s Storage) IsPostgres() bool {
	l := strings.ToLower(strings.TrimSpace(s.Path))
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

// Fetch is how the aggregator polls sources.
type Fetch struct {
	UserAgent            string        // sent verbatim when set; see UserAgentString
	Contact              string        // URL or e-mail address put in the default User-Agent
	Interval             time.Duration // default poll interval of a source
	Timeout              time.Duration // whole-request timeout of one poll
	MaxBody              int64         // bytes read from a response at most
	AllowPrivateNetworks bool          // let source URLs resolve to loopback/private addresses
	Concurrency          int           // polls in flight at once
	MaxInterval          time.Duration // longest delay between two polls of a source, whatever the hints
	HostGap              time.Duration // shortest gap between two requests to one host; 0 for none
	Lease                time.Duration // how long an instance holds a source it polls (several instances on one store)
	Adaptive             bool          // poll sources that rarely change less often, within [interval, max_interval]
	FutureDates          string        // FutureClamp ("" too) or FutureHide: what to do with items dated ahead of now
}

// Dedupe is how the copies of one story carried by several sources are
// recognised.
type Dedupe struct {
	// TitleWindow is how far apart in time two sources' items with the same
	// folded title may be and still be one story; 0 turns the title rule
	// off (the canonical-link rule always applies).
	TitleWindow time.Duration
}

// Default returns the configuration of an empty feeds.yaml: no sources, no
// channels, and the defaults above.
func Default() Config {
	return Config{
		Server:  Server{Listen: DefaultListen, BaseURL: DefaultBaseURL},
		Storage: Storage{Path: DefaultStoragePath, Keep: feed.Retention{Items: DefaultKeepItems, Days: DefaultKeepDays}},
		Fetch: Fetch{
			Interval:    DefaultInterval,
			Timeout:     DefaultTimeout,
			MaxBody:     DefaultMaxBody,
			Concurrency: DefaultConcurrency,
			MaxInterval: DefaultMaxInterval,
			HostGap:     DefaultHostGap,
			Lease:       DefaultLease,
		},
		Dedupe:  Dedupe{TitleWindow: DefaultTitleWindow},
		Publish: Publish{MaxAge: DefaultMaxAge, PageSize: DefaultPageSize, CacheSize: DefaultCacheSize},
		Mail:    Mail{Timezone: time.UTC},
		Site:    feed.Site{Title: DefaultSiteTitle(DefaultBaseURL), Language: DefaultSiteLanguage},
	}
}

// UserAgentString returns the User-Agent header to send: UserAgent when set,
// else "aggregator/<version> (+<contact>)", or "aggregator/<version>" without
// a contact. An empty version is left out ("aggregator (+<contact>)").
func (f Fetch) UserAgentString(version string) string {
	if f.UserAgent != "" {
		return f.UserAgent
	}
	ua := "aggregator"
	if version != "" {
		ua += "/" + version
	}
	if f.Contact != "" {
		ua += " (+" + f.Contact + ")"
	}
	return ua
}

// Source returns the source with the given id.
func (c Config) Source(id string) (feed.Source, bool) {
	for _, s := range c.Sources {
		if s.ID == id {
			return s, true
		}
	}
	return feed.Source{}, false
}

// Channel returns the channel with the given id.
func (c Config) Channel(id string) (feed.Channel, bool) {
	for _, ch := range c.Channels {
		if ch.ID == id {
			return ch, true
		}
	}
	return feed.Channel{}, false
}

// Load reads and parses the file at path; problems name the file as path
// was given. It returns the error of os.Open wrapped (errors.Is works with
// fs.ErrNotExist), or the problems of Parse.
func Load(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	defer f.Close()
	return Parse(f, path)
}

// Problem is one thing wrong with a configuration, named by the YAML path of
// the offending value ("sources[3].url", indexes from 0) and, when known, the
// file and line it is on.
type Problem struct {
	File string
	Line int // 1-based; 0 when unknown
	Path string
	Msg  string
}

// Error formats the problem as `file:line: path: msg`, leaving out what is
// unknown: `file: path: msg` without a line, `path: msg` without a file.
func (p *Problem) Error() string {
	var s string
	switch {
	case p.File != "" && p.Line > 0:
		s = fmt.Sprintf("%s:%d: ", p.File, p.Line)
	case p.File != "":
		s = p.File + ": "
	case p.Line > 0:
		s = fmt.Sprintf("line %d: ", p.Line)
	}
	if p.Path != "" {
		s += p.Path + ": "
	}
	return s + p.Msg
}

// Problems returns every *Problem in err's tree (as joined by Parse and
// Validate), in order; nil when err holds none.
func Problems(err error) []*Problem {
	var out []*Problem
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case *Problem:
			out = append(out, e)
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return out
}

// join turns problems into one error, nil when there are none.
func join(probs []*Problem) error {
	if len(probs) == 0 {
		return nil
	}
	errs := make([]error, len(probs))
	for i, p := range probs {
		errs[i] = p
	}
	return errors.Join(errs...)
}
