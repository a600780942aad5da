package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/kpolicy/aggregator/internal/feed"
)

// Limits checked by Validate.
const (
	minInterval    = time.Second
	maxIDLen       = 64
	maxConcurrency = 100
	maxLimit       = 1000
	// politeInterval is the shortest poll interval Warnings accepts for a
	// public host.
	politeInterval = 5 * time.Minute
	// maxTitleWindow bounds dedupe.title_window: a story retold a month
	// later is news again.
	maxTitleWindow = 30 * 24 * time.Hour
	// maxHostGap bounds fetch.host_gap: a longer gap would starve a host
	// with many sources.
	maxHostGap = 10 * time.Minute
	// minLease bounds fetch.lease: a shorter lease is renewed so often,
	// and lost on so small a stall, that instances would take each
	// other's polls.
	minLease = 5 * time.Second
)

// idPattern is what source ids, channel ids and tags look like: they appear
// in URLs and file names.
var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

const idRule = `must be lower-case letters, digits, ".", "_" or "-", starting with a letter or digit`

// Validate checks c as Parse leaves it, and returns one *Problem per problem
// (with Path and Msg, no file or line), joined with errors.Join; nil when c
// is valid. It does not fill defaults: a zero source Interval or channel
// Limit is a problem here.
func (c Config) Validate() error {
	return join(c.problems())
}

type validator struct {
	probs []*Problem
}

func (v *validator) add(path, format string, args ...any) {
	v.probs = append(v.probs, &Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (c Config) problems() []*Problem {
	v := &validator{}
	v.server(c.Server)
	if c.Storage.Path == "" {
		v.add("storage.path", "required")
	}
	v.fetch(c.Fetch)
	if w := c.Dedupe.TitleWindow; w < 0 || w > maxTitleWindow {
		v.add("dedupe.title_window", "must be between 0s (off) and %s (got %s)", formatDuration(maxTitleWindow), formatDuration(w))
	}
	v.publish(c.Publish)
	v.site(c.Site)
	v.limits(c)

	sourceIDs := map[string]int{}
	for i, s := range c.Sources {
		p := fmt.Sprintf("sources[%d]", i)
		v.id(p+".id", s.ID, "sources", sourceIDs, i)
		if s.URL == "" {
			v.add(p+".url", "required")
		} else {
			v.httpURL(p+".url", s.URL)
		}
		for j, t := range s.Tags {
			if !idPattern.MatchString(t) {
				v.add(fmt.Sprintf("%s.tags[%d]", p, j), idRule+" (got %q)", t)
			}
		}
		if s.Identity != "" && !slices.Contains(feed.IdentityPolicies(), s.Identity) {
			v.add(p+".identity", "must be one of %s (got %q)", strings.Join(feed.IdentityPolicies(), ", "), s.Identity)
		}
		if s.Interval < minInterval {
			v.add(p+".interval", "must be at least %s (got %s)", formatDuration(minInterval), formatDuration(s.Interval))
		}
		v.scrape(p, s)
	}

	channelIDs := map[string]int{}
	for i, ch := range c.Channels {
		p := fmt.Sprintf("channels[%d]", i)
		v.id(p+".id", ch.ID, "channels", channelIDs, i)
		if strings.TrimSpace(ch.Title) == "" {
			v.add(p+".title", "required")
		}
		for j, id := range ch.Sources {
			if _, ok := sourceIDs[id]; !ok {
				v.add(fmt.Sprintf("%s.sources[%d]", p, j), "no source has id %q", id)
			}
		}
		for j, t := range ch.Tags {
			if !c.tagged(t) {
				v.add(fmt.Sprintf("%s.tags[%d]", p, j), "no source has tag %q", t)
			}
		}
		if len(ch.Sources) == 0 && len(ch.Tags) == 0 {
			v.add(p, "selects no sources; give it sources, tags or both")
		}
		if ch.Limit < 1 || ch.Limit > maxLimit {
			v.add(p+".limit", "must be between 1 and %d (got %d)", maxLimit, ch.Limit)
		}
	}
	v.curation(c)
	v.mail(c)
	return v.probs
}

// tagged reports whether any source carries tag.
func (c Config) tagged(tag string) bool {
	for _, s := range c.Sources {
		if s.HasTag(tag) {
			return true
		}
	}
	return false
}

func (v *validator) server(s Server) {
	if s.Listen == "" {
		v.add("server.listen", "required")
	} else if _, port, err := net.SplitHostPort(s.Listen); err != nil || !validPort(port) {
		v.add("server.listen", `must be host:port such as ":8080" or "127.0.0.1:8080" (got %q)`, s.Listen)
	}
	switch {
	case s.BaseURL == "":
		v.add("server.base_url", "required")
	case !v.httpURL("server.base_url", s.BaseURL):
	case strings.HasSuffix(s.BaseURL, "/"):
		v.add("server.base_url", "must not end with / (got %q)", s.BaseURL)
	default:
		if u, _ := url.Parse(s.BaseURL); u.RawQuery != "" || u.Fragment != "" {
			v.add("server.base_url", "must not have a query or fragment (got %q)", s.BaseURL)
		}
	}
}

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0 && n <= 65535
}

func (v *validator) fetch(f Fetch) {
	if strings.IndexFunc(f.UserAgent, unicode.IsControl) >= 0 {
		v.add("fetch.user_agent", "must not contain control characters or line breaks")
	}
	if f.Contact != "" && !validContact(f.Contact) {
		v.add("fetch.contact", "must be an http(s) URL or an e-mail address (got %q)", f.Contact)
	}
	if f.Interval < minInterval {
		v.add("fetch.interval", "must be at least %s (got %s)", formatDuration(minInterval), formatDuration(f.Interval))
	}
	if f.Timeout <= 0 {
		v.add("fetch.timeout", "must be more than 0s (got %s)", formatDuration(f.Timeout))
	}
	if f.MaxBody <= 0 {
		v.add("fetch.max_body", "must be more than 0 bytes (got %d)", f.MaxBody)
	}
	if f.Concurrency < 1 || f.Concurrency > maxConcurrency {
		v.add("fetch.concurrency", "must be between 1 and %d (got %d)", maxConcurrency, f.Concurrency)
	}
	if f.MaxInterval < f.Interval || f.MaxInterval < minInterval {
		v.add("fetch.max_interval", "must be at least fetch.interval (%s) and %s (got %s)",
			formatDuration(f.Interval), formatDuration(minInterval), formatDuration(f.MaxInterval))
	}
	if f.HostGap < 0 || f.HostGap > maxHostGap {
		v.add("fetch.host_gap", "must be between 0s and %s (got %s)", formatDuration(maxHostGap), formatDuration(f.HostGap))
	}
	if f.Lease < minLease {
		v.add("fetch.lease", "must be at least %s (got %s): a shorter lease is lost on any stall", formatDuration(minLease), formatDuration(f.Lease))
	}
}

// id checks a source or channel id: required, well-formed, unique within
// its list (seen maps ids to their index).
func (v *validator) id(path, id, list string, seen map[string]int, i int) {
	switch {
	case id == "":
		v.add(path, "required")
	case len(id) > maxIDLen:
		v.add(path, "must be at most %d characters (got %d)", maxIDLen, len(id))
	case !idPattern.MatchString(id):
		v.add(path, idRule+" (got %q)", id)
	default:
		if first, dup := seen[id]; dup {
			v.add(path, "duplicate id %q (also %s[%d])", id, list, first)
			return
		}
		seen[id] = i
	}
}

// httpURL checks that s is an absolute http or https URL with a host, and
// reports whether it is.
// Bounds of the publish section.
const (
	maxMaxAge    = 24 * time.Hour
	minPageSize  = 10
	maxPageSize  = 1000
	minCacheSize = 1 << 20
	maxCacheSize = 64 << 30
)

func (v *validator) publish(p Publish) {
	if p.MaxAge < time.Second || p.MaxAge > maxMaxAge {
		v.add("publish.max_age", "must be between 1s and %s (got %s)", formatDuration(maxMaxAge), formatDuration(p.MaxAge))
	}
	if p.PageSize < minPageSize || p.PageSize > maxPageSize {
		v.add("publish.page_size", "must be between %d and %d (got %d)", minPageSize, maxPageSize, p.PageSize)
	}
	for i, h := range p.Hubs {
		v.httpURL(fmt.Sprintf("publish.hubs[%d]", i), h)
	}
	if p.CacheSize < minCacheSize || p.CacheSize > maxCacheSize {
		v.add("publish.cache_size", "must be between 1MiB and 64GiB (got %d bytes)", p.CacheSize)
	}
}

func (v *validator) httpURL(path, s string) bool {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		v.add(path, "must be an absolute http(s) URL (got %q)", s)
		return false
	}
	return true
}

// validContact accepts an http(s) URL, a mailto: URL or a bare e-mail
// address; what matters is that a publisher can reach a person.
func validContact(s string) bool {
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return false
	}
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "http", "https":
		return u.Host != ""
	case "mailto":
		return strings.Contains(u.Opaque, "@")
	case "":
		at := strings.Index(s, "@")
		return at > 0 && at < len(s)-1 && !strings.Contains(s[at+1:], "@")
	}
	return false
}

// Warnings returns advice about a valid configuration that would still do
// something unwanted, each as "path: message", in file order. Parse does
// not fail on them; the program prints them at start.
func (c Config) Warnings() []string {
	var w []string
	add := func(path, format string, args ...any) {
		w = append(w, path+": "+fmt.Sprintf(format, args...))
	}
	polled := false
	for _, s := range c.Sources {
		polled = polled || !s.Disabled
	}
	if polled && c.Fetch.UserAgent == "" && c.Fetch.Contact == "" {
		add("fetch.contact", "empty; set a URL or e-mail address so publishers can reach whoever runs the aggregator")
	}
	if c.Fetch.AllowPrivateNetworks {
		add("fetch.allow_private_networks", "true lets source URLs reach loopback and private addresses; use it only for testing")
	}

	urls := map[string]int{}
	for i, s := range c.Sources {
		p := fmt.Sprintf("sources[%d]", i)
		if !s.Disabled && s.Interval > 0 && s.Interval < politeInterval && !loopback(s.URL) {
			add(p+".interval", "%s polls a public host more often than every %s",
				formatDuration(s.Interval), formatDuration(politeInterval))
		}
		if first, dup := urls[s.URL]; dup {
			add(p+".url", "same URL as sources[%d]", first)
		} else {
			urls[s.URL] = i
		}
		if len(c.Channels) > 0 && !c.published(s) {
			add(p, "%q is in no channel, so its items are stored but never published", s.ID)
		}
	}
	if len(c.Channels) == 0 && len(c.Sources) > 0 {
		add("channels", "none listed, so nothing polled is published")
	}

	for i, ch := range c.Channels {
		selected, enabled := 0, 0
		for _, s := range c.Sources {
			if ch.Selects(s) {
				selected++
				if !s.Disabled {
					enabled++
				}
			}
		}
		if selected > 0 && enabled == 0 {
			add(fmt.Sprintf("channels[%d]", i), "every source it selects is disabled")
		}
	}
	return append(w, c.mailWarnings()...)
}

// published reports whether any channel selects s.
func (c Config) published(s feed.Source) bool {
	for _, ch := range c.Channels {
		if ch.Selects(s) {
			return true
		}
	}
	return false
}

// loopback reports whether rawURL points at this machine, where polling
// often is nobody's business.
func loopback(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
