package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	"golang.org/x/text/language"

	"github.com/kpolicy/aggregator/internal/curate"
	"github.com/kpolicy/aggregator/internal/feed"
)

// Retention defaults: storage.keep, which every source inherits key by key.
const (
	DefaultKeepItems = 1000
	DefaultKeepDays  = 0 // no age limit
	maxKeepItems     = 1_000_000
	maxKeepDays      = 100 * 365
)

// curationKeys are the curation keys that channels and sources share.
func (d *decoder) curationKeys(c *feed.Curation) []key {
	return []key{
		{"include", d.rules(&c.Include)},
		{"exclude", d.rules(&c.Exclude)},
		{"languages", d.strs(&c.Languages)},
		{"max_age", d.age(&c.MaxAge)},
		{"hide", d.strs(&c.Hide)},
	}
}

// sourceKeys are the keys a source has beyond id, url, title, tags,
// interval and disabled.
func (d *decoder) sourceKeys(s *feed.Source) []key {
	return append(d.curationKeys(&s.Curation),
		key{"limit", d.integer(&s.Limit)},
		key{"keep", d.keep(&s.Keep)},
		key{"scrape", d.scrape(&s.Scrape)},
	)
}

// channelKeys are the keys a channel has beyond id, title, description,
// sources, tags and limit.
func (d *decoder) channelKeys(ch *feed.Channel) []key {
	return append(d.curationKeys(&ch.Curation), key{"pin", d.strs(&ch.Pin)}, key{"mail", d.channelMail(&ch.Mail)})
}

func (d *decoder) keep(dst *feed.Retention) func(ast.Node, string) {
	return func(n ast.Node, path string) {
		d.mapping(n, path, []key{
			{"items", d.integer(&dst.Items)},
			{"days", d.integer(&dst.Days)},
		})
	}
}

// inheritKeep gives each source the storage.keep values it does not set.
func (d *decoder) inheritKeep(c *Config) {
	for i := range c.Sources {
		p := fmt.Sprintf("sources[%d].keep", i)
		if !d.given[p+".items"] {
			c.Sources[i].Keep.Items = c.Storage.Keep.Items
		}
		if !d.given[p+".days"] {
			c.Sources[i].Keep.Days = c.Storage.Keep.Days
		}
	}
}

// rules decodes a list of rules. Each entry is a keyword or /regexp/ that
// looks at the item's text, or a one-key mapping naming the field:
// { title: keyword }, { url: /regexp/ }. A bad entry is kept as a zero
// rule so that indexes match the file.
func (d *decoder) rules(dst *[]feed.Rule) func(ast.Node, string) {
	return func(n ast.Node, path string) {
		d.list(n, path, func(n ast.Node, path string) {
			r := d.rule(n, path)
			r.Where = fmt.Sprintf("%s:%d %s", d.file, d.lineOf(path), path)
			*dst = append(*dst, r)
		})
	}
}

func (d *decoder) rule(n ast.Node, path string) feed.Rule {
	var entries []*ast.MappingValueNode
	switch m := n.(type) {
	case nil, *ast.NullNode:
		d.bad(n, path, "empty rule; write a keyword, /regexp/ or { title: keyword }")
		return feed.Rule{}
	case *ast.MappingNode:
		entries = m.Values
	case *ast.MappingValueNode:
		entries = []*ast.MappingValueNode{m}
	case *ast.SequenceNode:
		d.bad(n, path, "must be a keyword, /regexp/ or a mapping such as { title: keyword } (got a list)")
		return feed.Rule{}
	default:
		s, _ := d.scalar(n, path, "a keyword")
		return parseRule(feed.FieldText, s)
	}
	if len(entries) != 1 {
		d.bad(n, path, fmt.Sprintf("a rule names one field, one of %s (got %d keys)", strings.Join(feed.RuleFields, ", "), len(entries)))
		return feed.Rule{}
	}
	e := entries[0]
	field, ok := keyName(e.Key)
	if !ok || !isRuleField(field) {
		d.bad(n, path, fmt.Sprintf("unknown field %s; use one of %s", got(e.Key), strings.Join(feed.RuleFields, ", ")))
		return feed.Rule{}
	}
	v, ok := d.value(e.Value, path)
	if !ok {
		return feed.Rule{}
	}
	s, ok := d.scalar(v, path, "a keyword or /regexp/")
	if !ok {
		return feed.Rule{}
	}
	return parseRule(field, s)
}

func isRuleField(f string) bool {
	for _, k := range feed.RuleFields {
		if k == f {
			return true
		}
	}
	return false
}

// parseRule reads "/expr/" as a regular expression and anything else as
// a keyword.
func parseRule(field, s string) feed.Rule {
	if len(s) >= 2 && strings.HasPrefix(s, "/") && strings.HasSuffix(s, "/") {
		return feed.Rule{Field: field, Pattern: s[1 : len(s)-1], Regexp: true}
	}
	return feed.Rule{Field: field, Pattern: s}
}

// age decodes a duration, also accepting whole days ("30d").
func (d *decoder) age(dst *time.Duration) func(ast.Node, string) {
	return func(n ast.Node, path string) {
		if s, ok := n.(*ast.StringNode); ok {
			if v, err := parseAge(s.Value); err == nil {
				*dst = v
				return
			}
		}
		d.bad(n, path, fmt.Sprintf(`must be a duration such as "36h" or a number of days such as "30d" (got %s)`, got(n)))
	}
}

func parseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > maxKeepDays {
			return 0, fmt.Errorf("bad number of days %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return parseDuration(s)
}

// curation checks the curation keys of every source and channel.
func (v *validator) curation(c Config) {
	if c.Storage.Keep.Items < 0 || c.Storage.Keep.Items > maxKeepItems {
		v.add("storage.keep.items", "must be between 0 (no limit) and %d (got %d)", maxKeepItems, c.Storage.Keep.Items)
	}
	if c.Storage.Keep.Days < 0 || c.Storage.Keep.Days > maxKeepDays {
		v.add("storage.keep.days", "must be between 0 (no limit) and %d (got %d)", maxKeepDays, c.Storage.Keep.Days)
	}
	for i, s := range c.Sources {
		p := fmt.Sprintf("sources[%d]", i)
		v.curationOf(p, s.Curation)
		if s.Limit < 0 || s.Limit > maxLimit {
			v.add(p+".limit", "must be between 0 (no limit of its own) and %d (got %d)", maxLimit, s.Limit)
		}
		if s.Keep.Items < 0 || s.Keep.Items > maxKeepItems {
			v.add(p+".keep.items", "must be between 0 (no limit) and %d (got %d)", maxKeepItems, s.Keep.Items)
		}
		if s.Keep.Days < 0 || s.Keep.Days > maxKeepDays {
			v.add(p+".keep.days", "must be between 0 (no limit) and %d (got %d)", maxKeepDays, s.Keep.Days)
		}
	}
	for i, ch := range c.Channels {
		p := fmt.Sprintf("channels[%d]", i)
		v.curationOf(p, ch.Curation)
		hidden := map[string]bool{}
		for _, h := range ch.Curation.Hide {
			hidden[curate.RefKey(h)] = true
		}
		pinned := map[string]int{}
		for j, ref := range ch.Pin {
			pp := fmt.Sprintf("%s.pin[%d]", p, j)
			k := curate.RefKey(ref)
			switch {
			case k == "":
				v.add(pp, "empty; write an item's link or id")
			case hidden[k]:
				v.add(pp, "%q is also in hide; remove it from one of the two", ref)
			default:
				if first, dup := pinned[k]; dup {
					v.add(pp, "same item as pin[%d]", first)
				}
				pinned[k] = j
			}
		}
		if len(ch.Pin) > ch.Limit && ch.Limit > 0 {
			v.add(p+".pin", "pins %d items but the channel shows %d (limit)", len(ch.Pin), ch.Limit)
		}
	}
}

func (v *validator) curationOf(p string, c feed.Curation) {
	for _, list := range []struct {
		name  string
		rules []feed.Rule
	}{{"include", c.Include}, {"exclude", c.Exclude}} {
		for j, r := range list.rules {
			rp := fmt.Sprintf("%s.%s[%d]", p, list.name, j)
			if err := curate.CompileRule(r); err != nil {
				v.add(rp, "%s", ruleProblem(r, err))
			}
		}
	}
	for j, l := range c.Languages {
		if _, err := language.Parse(l); err != nil || strings.TrimSpace(l) == "" {
			v.add(fmt.Sprintf("%s.languages[%d]", p, j), `must be a BCP 47 language tag such as "ko", "en" or "zh-Hant" (got %q)`, l)
		}
	}
	if c.MaxAge < 0 {
		v.add(p+".max_age", "must not be negative (got %s)", formatDuration(c.MaxAge))
	}
	for j, h := range c.Hide {
		if curate.RefKey(h) == "" {
			v.add(fmt.Sprintf("%s.hide[%d]", p, j), "empty; write an item's link or id")
		}
	}
}

// ruleProblem says what is wrong with a rule in the words of feeds.yaml.
func ruleProblem(r feed.Rule, err error) string {
	switch {
	case r.Regexp:
		msg := err.Error()
		if i := strings.Index(msg, "error parsing regexp: "); i >= 0 {
			msg = msg[i+len("error parsing regexp: "):]
		}
		return fmt.Sprintf("not a valid RE2 regular expression /%s/: %s", r.Pattern, msg)
	case strings.TrimSpace(r.Pattern) == "":
		return "empty keyword"
	}
	return err.Error()
}
