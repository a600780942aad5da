package config

import (
	"slices"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

func TestIdentityAndDedupe(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		c, probs := parseString(t, valid)
		if len(probs) > 0 {
			t.Fatal(probs)
		}
		if got, want := c.Dedupe.TitleWindow, 48*time.Hour; got != want {
			t.Errorf("title_window = %s, want %s", got, want)
		}
		if got := c.Sources[0].Identity; got != "" {
			t.Errorf("identity = %q, want empty (auto)", got)
		}
	})
	t.Run("given", func(t *testing.T) {
		c, probs := parseString(t, `dedupe:
  title_window: 12h
sources:
  - id: churn
    url: https://example.org/feed
    identity: link
  - id: homepage-links
    url: https://example.org/other
    identity: guid
channels:
  - {id: all, title: All, sources: [churn, homepage-links]}
`)
		if len(probs) > 0 {
			t.Fatal(probs)
		}
		if c.Dedupe.TitleWindow != 12*time.Hour || c.Sources[0].Identity != feed.IdentityLink || c.Sources[1].Identity != feed.IdentityGUID {
			t.Errorf("dedupe %+v, identities %q %q", c.Dedupe, c.Sources[0].Identity, c.Sources[1].Identity)
		}
	})
	t.Run("zero window turns the title rule off", func(t *testing.T) {
		c, probs := parseString(t, "dedupe: {title_window: 0s}\n")
		if len(probs) > 0 || c.Dedupe.TitleWindow != 0 {
			t.Errorf("window %s, problems %q", c.Dedupe.TitleWindow, probs)
		}
	})
	t.Run("problems", func(t *testing.T) {
		_, probs := parseString(t, `dedupe:
  title_window: 2000h
  window: 1h
sources:
  - id: a
    url: https://example.org/feed
    identity: url
channels:
  - {id: all, title: All, sources: [a]}
`)
		want := []string{
			"feeds.yaml:2: dedupe.title_window: must be between 0s (off) and 720h (got 2000h)",
			`feeds.yaml:3: dedupe.window: unknown key (known keys: title_window)`,
			`feeds.yaml:7: sources[0].identity: must be one of auto, guid, link, content (got "url")`,
		}
		if !slices.Equal(probs, want) {
			t.Errorf("problems:\n%q\nwant\n%q", probs, want)
		}
	})
}
