// Package curate decides which stories a channel shows: the include and
// exclude rules, languages, maximum age and hidden items that staff wrote
// in feeds.yaml for a channel and for each of its sources, the per-source
// limit, and the pinned items. [Channel] says what membership is;
// [Channel.Judge] decides about one story and [Judgment.Member] adds the
// per-source limits.
//
// It is pure: it reads feed types (and, for Filter.Check, a clock reading)
// and returns a verdict with its reason. It does no I/O, keeps no
// package-level state and does not know where stories come from: the
// membership package walks the store, asks, and keeps the answer in an
// index every output reads.
package curate

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// Filter is one compiled feed.Curation: a channel's or a source's.
// It is immutable and safe for concurrent use.
type Filter struct {
	include, exclude []rule
	languages        []string // lower-case, "-" separated
	maxAge           time.Duration
	hide             map[string]string // refKey → the reference as written
	label            string            // "channel x" or "source y", for reasons
}

// rule is a compiled feed.Rule.
type rule struct {
	src     feed.Rule
	keyword string // folded; empty for a regexp rule
	re      *regexp.Regexp
}

// Compile compiles c; label names its owner in reasons ("channel north-korea",
// "source yonhap"). It returns an error naming the first rule that is not
// valid: an unknown field, an empty keyword or a regexp RE2 refuses.
func Compile(c feed.Curation, label string) (*Filter, error) {
	f := &Filter{maxAge: c.MaxAge, label: label}
	var err error
	if f.include, err = compileRules(c.Include); err != nil {
		return nil, fmt.Errorf("compile %s include: %w", label, err)
	}
	if f.exclude, err = compileRules(c.Exclude); err != nil {
		return nil, fmt.Errorf("compile %s exclude: %w", label, err)
	}
	for _, l := range c.Languages {
		if l = normLang(l); l != "" {
			f.languages = append(f.languages, l)
		}
	}
	if len(c.Hide) > 0 {
		f.hide = make(map[string]string, len(c.Hide))
		for _, h := range c.Hide {
			if k := RefKey(h); k != "" {
				f.hide[k] = strings.TrimSpace(h)
			}
		}
	}
	return f, nil
}

// CompileRule compiles one rule on its own, for validation.
func CompileRule(r feed.Rule) error {
	_, err := compileRule(r)
	return err
}

func compileRules(rs []feed.Rule) ([]rule, error) {
	out := make([]rule, 0, len(rs))
	for _, r := range rs {
		c, err := compileRule(r)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func compileRule(r feed.Rule) (rule, error) {
	if r.Field == "" {
		r.Field = feed.FieldText
	}
	if !slices.Contains(feed.RuleFields, r.Field) {
		return rule{}, fmt.Errorf("rule %s: unknown field %q", r, r.Field)
	}
	if r.Regexp {
		re, err := regexp.Compile(r.Pattern)
		if err != nil {
			return rule{}, fmt.Errorf("rule %s: %w", r, err)
		}
		return rule{src: r, re: re}, nil
	}
	k := fold(r.Pattern)
	if strings.TrimSpace(k) == "" {
		return rule{}, fmt.Errorf("rule %s: empty keyword", r)
	}
	return rule{src: r, keyword: k}, nil
}

// Verdict is what a filter decided about one item.
type Verdict struct {
	Keep   bool
	Reason string     // why it was dropped; empty when kept
	Rule   *feed.Rule // the rule that decided, when a rule did
}

func drop(format string, args ...any) Verdict {
	return Verdict{Reason: fmt.Sprintf(format, args...)}
}

// Check decides whether f keeps it at time now. It checks, in order:
// hidden, maximum age, language, exclude rules, include rules. Each text is
// folded once per item, whichever rules ask for it.
func (f *Filter) Check(it feed.Item, now time.Time) Verdict {
	if f == nil {
		return Verdict{Keep: true}
	}
	if ref, ok := f.hidden(it); ok {
		return drop("hidden by %s (hide: %s)", f.label, ref)
	}
	if u := f.Until(it); !u.IsZero() && !now.Before(u) {
		return drop("older than %s max_age %s", f.label, formatAge(f.maxAge))
	}
	return f.rules(it)
}

// Until returns the time from which f's max_age drops it: its sort time
// plus max_age; the zero time when f has no max_age. max_age keeps an item
// strictly before Until.
func (f *Filter) Until(it feed.Item) time.Time {
	if f == nil || f.maxAge <= 0 {
		return time.Time{}
	}
	return it.Sort().Add(f.maxAge)
}

// rules is Check without hide and max_age: languages, exclude and include.
func (f *Filter) rules(it feed.Item) Verdict {
	if f == nil {
		return Verdict{Keep: true}
	}
	if len(f.languages) > 0 && it.Language != "" && !f.langOK(it.Language) {
		return drop("language %q not in %s languages %v", it.Language, f.label, f.languages)
	}
	if len(f.exclude) == 0 && len(f.include) == 0 {
		return Verdict{Keep: true}
	}
	t := newTexts(it)
	for i := range f.exclude {
		if f.exclude[i].match(t) {
			r := f.exclude[i].src
			return Verdict{Reason: fmt.Sprintf("excluded by %s rule %s", f.label, where(r)), Rule: &r}
		}
	}
	if len(f.include) == 0 {
		return Verdict{Keep: true}
	}
	for i := range f.include {
		if f.include[i].match(t) {
			r := f.include[i].src
			return Verdict{Keep: true, Rule: &r}
		}
	}
	return drop("matches none of the %d include rules of %s", len(f.include), f.label)
}

func where(r feed.Rule) string {
	if r.Where != "" {
		return `"` + r.String() + `" (` + r.Where + ")"
	}
	return `"` + r.String() + `"`
}

func formatAge(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// hidden reports whether it is one of f's hidden items, and the reference
// that hid it.
func (f *Filter) hidden(it feed.Item) (string, bool) {
	if f == nil || len(f.hide) == 0 {
		return "", false
	}
	for _, k := range itemRefs(it) {
		if ref, ok := f.hide[k]; ok {
			return ref, true
		}
	}
	return "", false
}

func (f *Filter) langOK(lang string) bool {
	l := normLang(lang)
	for _, want := range f.languages {
		if l == want || strings.HasPrefix(l, want+"-") {
			return true
		}
	}
	return false
}

// normLang lower-cases a language tag and writes "_" as "-" ("ko_KR" is
// common in the wild).
func normLang(l string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(l)), "_", "-")
}

// RefKey is how pin and hide references are compared with items: a URL is
// reduced to its host (lower case, no default port, no "www."), path
// without trailing slash, and query, so http and https, a trailing slash or
// a fragment do not matter; anything else (an upstream id such as a tag: or
// urn: URI, or an item key) is compared as written, trimmed. "" for blank.
func RefKey(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && !strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https")) || u.Host == "" {
		return s
	}
	host := strings.ToLower(u.Hostname())
	host = strings.TrimPrefix(host, "www.")
	if p := u.Port(); p != "" && p != "80" && p != "443" {
		host += ":" + p
	}
	k := "//" + host + strings.TrimRight(u.EscapedPath(), "/")
	if u.RawQuery != "" {
		k += "?" + u.RawQuery
	}
	return k
}

// itemRefs returns the keys a story can be referred to by: its link, its
// upstream id and its store key, then the link and key of every other
// source's copy merged into it (a hide or pin written with the copy a
// reader saw names the story).
func itemRefs(it feed.Item) []string {
	refs := make([]string, 0, 3+2*len(it.Origins))
	for _, s := range []string{it.Link, it.ID, it.Key} {
		if k := RefKey(s); k != "" {
			refs = append(refs, k)
		}
	}
	for _, o := range it.Origins {
		for _, s := range []string{o.Link, o.Key} {
			if k := RefKey(s); k != "" {
				refs = append(refs, k)
			}
		}
	}
	return refs
}
