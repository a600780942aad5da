package config

import (
	"testing"
)

// TestShippedFeedsYAML loads the feeds.yaml at the repository root: it must
// be valid and free of warnings.
func TestShippedFeedsYAML(t *testing.T) {
	c, err := Load("../../feeds.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate after Load: %v", err)
	}
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("warnings:\n%v", w)
	}
	if got, want := len(c.Channels) >= 3, true; got != want {
		t.Errorf("%d channels, want at least 3", len(c.Channels))
	}
	ch, ok := c.Channel("the-peninsula")
	if !ok {
		t.Fatal(`no channel "the-peninsula"`)
	}
	if got, want := ch.SourceIDs(c.Sources), []string{"kei-peninsula"}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("the-peninsula selects %v, want %v", got, want)
	}
	for _, ch := range c.Channels {
		if len(ch.SourceIDs(c.Sources)) == 0 {
			t.Errorf("channel %q selects no source", ch.ID)
		}
	}
	if c.Site.Title == DefaultSiteTitle(c.Server.BaseURL) || c.Site.Description == "" || c.Site.Footer == "" || c.Site.Language != "en" {
		t.Errorf("site = %+v: the shipped file names the institute, says what the site is, and has a footer, in English", c.Site)
	}
	for _, s := range c.Sources {
		if s.Title == "" || len(s.Tags) == 0 {
			t.Errorf("source %q: title %q, tags %v; every shipped source needs both", s.ID, s.Title, s.Tags)
		}
	}
}
