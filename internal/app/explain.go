package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/story"
)

// Reason is one thing explain says about why an item is shown as it is:
// Kind names the rule ("merged", "identity", "rekey", "warning"), Text
// says it for staff.
type Reason struct {
	Kind string `json:"kind"`
	Text string `json:"text"`
}

// Explanation is what the explain command prints for one matched copy of a
// story and GET /admin/explain answers. The JSON names are part of the
// admin API.
type Explanation struct {
	Found    store.Found `json:"found"`
	Policy   string      `json:"policy"`   // the identity policy of the story's source in the config
	Channels []string    `json:"channels"` // ids of the channels that show the story
	Reasons  []Reason    `json:"reasons"`
}

// Locator finds stored stories and reads their sources' state.
type Locator interface {
	Locate(ctx context.Context, q string) ([]store.Found, error)
	StateReader
}

// Explain explains every stored copy item names (an item URL, an upstream
// id, or SOURCE/KEY) under cfg. Nothing found is the store's
// feed.ENOTFOUND error; a query that cannot name an item, feed.EINVALID.
func Explain(ctx context.Context, st Locator, cfg config.Config, item string) ([]Explanation, error) {
	found, err := st.Locate(ctx, item)
	if err != nil {
		return nil, err
	}
	out := make([]Explanation, 0, len(found))
	for _, fd := range found {
		e := explain(cfg, fd)
		if s, err := st.State(ctx, fd.SourceID); err == nil && s.Warning != "" {
			e.Reasons = append(e.Reasons, Reason{"warning", fmt.Sprintf("the last poll of %s warned: %s", fd.SourceID, s.Warning)})
		}
		out = append(out, e)
	}
	return out, nil
}

// explain gathers what there is to say about one match.
func explain(cfg config.Config, fd store.Found) Explanation {
	e := Explanation{Found: fd, Policy: feed.IdentityAuto, Channels: []string{}}
	s := fd.Story
	if src, ok := cfg.Source(s.SourceID); ok && src.Identity != "" {
		e.Policy = src.Identity
	}
	carriers := []string{s.SourceID}
	for _, o := range s.Origins {
		carriers = append(carriers, o.SourceID)
	}
	for _, ch := range cfg.Channels {
		for _, id := range carriers {
			if src, ok := cfg.Source(id); ok && ch.Selects(src) {
				e.Channels = append(e.Channels, ch.ID)
				break
			}
		}
	}

	e.Reasons = append(e.Reasons, Reason{"identity", identityText(s.Key, e.Policy)})
	if a := fd.Alias; a != nil && a.Rule == story.RuleRekey {
		e.Reasons = append(e.Reasons, Reason{"rekey", fmt.Sprintf(
			"%s/%s is the key %s gave this item later (a new GUID, or a poll identified by link); "+
				"same canonical link and title, so it was recognised on %s as the item stored under %s",
			fd.SourceID, fd.Key, fd.SourceID, stamp(a.Seen), a.Key)})
	}
	if len(s.Origins) > 0 {
		var others []string
		for _, o := range s.Origins {
			others = append(others, o.SourceID)
		}
		e.Reasons = append(e.Reasons, Reason{"merged", fmt.Sprintf(
			"carried by %d sources and stored once: published under %s (its first origin, atom:source / RSS <source>), "+
				"with via links to %s", len(s.Origins)+1, s.SourceID, strings.Join(others, ", "))})
	}
	return e
}

// identityText says which identity rule made key under policy.
func identityText(key, policy string) string {
	rule := map[string]string{
		"id":   "the upstream GUID/id",
		"link": "the canonical link (no tracking parameters; http and https alike)",
		"hash": "a hash of title and content (the item had no GUID or link)",
	}[feed.KeyRule(key)]
	if rule == "" {
		rule = "an unrecognised key"
	}
	return fmt.Sprintf("identified by %s, under the source's identity policy %q", rule, policy)
}

// stamp formats a time for explain: RFC 3339 in UTC, "-" for none.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
