package feed

import "time"

// Source is one upstream feed (or, with Scrape, a web page read as one)
// that staff listed in feeds.yaml.
type Source struct {
	ID       string        // stable, URL-safe identifier chosen by staff ("kei-peninsula")
	URL      string        // the feed URL as configured
	Title    string        // display title; empty means "use the feed's own title"
	Tags     []string      // channels may select sources by tag
	Interval time.Duration // how often to poll; never zero after config validation
	Disabled bool          // listed but not polled
	Identity string        // how its items are told apart: IdentityAuto ("" too), IdentityGUID, IdentityLink or IdentityContent

	// Curation filters this source's items in every channel that shows it.
	Curation Curation
	// Limit is how many of this source's newest items a channel shows at
	// most; 0 means no limit of its own.
	Limit int
	// Keep bounds what the store keeps of this source; see Retention.
	Keep Retention
	// Scrape, when set, says how to read items from the source's HTML
	// page, which has no feed; nil for a feed.
	Scrape *Scrape
}

// HasTag reports whether s carries tag.
func (s Source) HasTag(tag string) bool {
	for _, t := range s.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// SourceState is what the poller remembers about a source between polls.
// Validators are stored exactly as the origin sent them.
type SourceState struct {
	SourceID     string
	URL          string    // the URL last polled (may differ from the configured one after redirects)
	ETag         string    // ETag response header, verbatim
	LastModified string    // Last-Modified response header, verbatim
	BodyHash     string    // hex SHA-256 of the last 200 body, to skip parsing identical bodies
	LastStatus   int       // HTTP status of the last attempt; 0 when no response was received
	LastPoll     time.Time // when the last attempt finished
	LastSuccess  time.Time // when the last attempt that stored or confirmed items finished
	LastError    string    // empty after a success
	Errors       int       // consecutive failed attempts
	NextPoll     time.Time // when the source is due again
	Title        string    // the feed's own title, as last parsed
	Link         string    // the feed's own home page link, as last parsed
	Items        int       // items stored for this source

	// ConfiguredURL is the source's URL in feeds.yaml when this state was
	// written. When the configuration names another URL the poller starts
	// afresh: it un-retires the source and forgets an adopted redirect.
	ConfiguredURL string
	// AdoptedURL, when set, is polled instead of the configured URL: the
	// target of a permanent redirect (301/308) seen on several consecutive
	// polls. The configured URL stays in feeds.yaml.
	AdoptedURL string
	// DiscoveredURL, when set, is the feed that the configured URL's HTML
	// page announced (autodiscovery) and that is polled instead of the
	// page; an adopted redirect of it, when there is one, goes first. The
	// poller forgets it when it answers 404 or 410, and discovers again.
	DiscoveredURL string
	// RedirectTarget is a permanent redirect target seen on RedirectCount
	// consecutive polls and not yet adopted; empty when there is none.
	RedirectTarget string
	RedirectCount  int
	// Retired is set when the origin answered 410 Gone: the source is kept
	// (its items stay published) but no longer polled.
	Retired bool
	// TTL is the feed's own <ttl> as last parsed, so a 304 still honours it.
	TTL time.Duration
	// LastChange is when a poll last found new or updated items (or first
	// succeeded); adaptive scheduling polls rarely-changing sources less.
	LastChange time.Time
	// Warning is a non-fatal note about the last poll ("redirected
	// permanently to …", "asked to wait until …"); empty when none.
	Warning string
	// Identity is the identity policy the last poll's items were keyed
	// by (Source.Identity); the store trusts links only under auto and link.
	Identity string
	// Parsing is when the poll under way began parsing the body it fetched;
	// zero when none is. The poller saves it before parsing and the poll's
	// outcome clears it, so a state found with it at the start of a poll
	// belongs to a process that stopped while parsing.
	Parsing time.Time
	// Hub and Self are the WebSub hub (rel="hub") and topic (rel="self")
	// the feed last named; empty when it named none.
	Hub, Self string
	// Push is the source's WebSub subscription; the zero Push when none.
	Push Push
}

// PollURL is the URL the poller requests for a source configured at
// configured: the adopted redirect target when there is one, else the
// discovered feed when there is one.
func (s SourceState) PollURL(configured string) string {
	if s.ConfiguredURL != "" && s.ConfiguredURL != configured {
		return configured
	}
	if s.AdoptedURL != "" {
		return s.AdoptedURL
	}
	if s.DiscoveredURL != "" {
		return s.DiscoveredURL
	}
	return configured
}

// Polled reports whether the source was ever attempted.
func (s SourceState) Polled() bool { return !s.LastPoll.IsZero() }
