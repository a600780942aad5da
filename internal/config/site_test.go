package config

import (
	"strings"
	"testing"

	"github.com/kpolicy/aggregator/internal/feed"
)

func TestParseSite(t *testing.T) {
	c, probs := parseString(t, `server: { base_url: "https://news.example.org/korea/" }
site:
  title: "The Institute"
  description: "Korean affairs, every day."
  language: en_gb
  footer: |
    <p>Published by <a href="https://example.org/">the Institute</a> &amp; friends.<br>
    It's <b>free</b>.</p>
`+valid)
	if len(probs) > 0 {
		t.Fatalf("problems: %v", probs)
	}
	want := feed.Site{Title: "The Institute", Description: "Korean affairs, every day.", Language: "en-GB",
		Footer: `<p>Published by <a href="https://example.org/" rel="nofollow">the Institute</a> &amp; friends.<br>` + "\n" + `It&#39;s <b>free</b>.</p>`}
	if c.Site != want {
		t.Errorf("site = %#v\n want %#v", c.Site, want)
	}
}

func TestSiteDefaults(t *testing.T) {
	for _, tc := range []struct{ file, title string }{
		{valid, "localhost:8080"},
		{"server: { base_url: \"https://www.example.org\" }\n" + valid, "example.org"},
		{"server: { base_url: \"https://example.org/korea/\" }\nsite: { description: x }\n" + valid, "example.org/korea"},
	} {
		c, probs := parseString(t, tc.file)
		if len(probs) > 0 {
			t.Fatalf("problems: %v", probs)
		}
		if c.Site.Title != tc.title || c.Site.Language != "en" {
			t.Errorf("defaults of %.50q: title %q, language %q; want %q, en", tc.file, c.Site.Title, c.Site.Language, tc.title)
		}
	}
	if d := Default().Site; d.Title != "localhost:8080" || d.Language != "en" {
		t.Errorf("Default().Site = %+v", d)
	}
}

func TestSiteProblems(t *testing.T) {
	for _, tc := range []struct{ site, want string }{
		{`title: ""`, `feeds.yaml:2: site.title: must not be blank`},
		{`title: "` + strings.Repeat("x", 201) + `"`, `site.title: must be at most 200 characters (got 201)`},
		{`title: "a\tb"`, `site.title: must be one line of text`},
		{`description: "` + strings.Repeat("x", 1025) + `"`, `site.description: must be at most 1024 characters`},
		{`language: english`, `feeds.yaml:2: site.language: must be a BCP 47 language tag such as "en", "ko" or "en-GB" (got "english")`},
		{`language: und`, `site.language: must be a BCP 47`},
		{`language: x-klingon`, `site.language: must be a BCP 47`},
		{`language: [en]`, `site.language: must be a string (got a list)`},
		{`footer: "<p>Hi<script>alert(1)</script></p>"`, `feeds.yaml:2: site.footer: the pages' HTML policy would remove <script>; scripts, styles`},
		{`footer: "<p style=\"color: red\">Hi</p>"`, `site.footer: the pages' HTML policy would remove the attribute style="color: red" of <p>`},
		{`footer: "<a href=\"javascript:alert(1)\">x</a>"`, `site.footer: the pages' HTML policy would remove <a href="javascript:alert(1)">`},
		{`footer: "<form><input></form>"`, `site.footer: the pages' HTML policy would remove <form>`},
		{`footer: "` + strings.Repeat("x", 8193) + `"`, `site.footer: must be at most 8KiB`},
		{`titel: x`, `site.titel: unknown key (did you mean "title"?)`},
	} {
		_, probs := parseString(t, "site:\n  "+tc.site+"\n"+valid)
		if len(probs) != 1 || !strings.Contains(probs[0], tc.want) {
			t.Errorf("site { %.60s }: problems %q, want one containing %q", tc.site, probs, tc.want)
		}
	}
}

// TestSiteFooterKept: markup the policy keeps as it is written is
// accepted, however it is spelt.
func TestSiteFooterKept(t *testing.T) {
	for _, f := range []string{
		`Plain text & an ampersand`,
		`<p>It's <em>ours</em> &copy; 2026</p>`,
		`<p>A<br/>B</p> <!-- a comment -->`,
		`<a href="/channels/the-peninsula" title="Our blog">The Peninsula</a> · <a href="mailto:info@example.org">Write to us</a>`,
		`<small>Seoul &amp; Washington</small>`,
	} {
		c := Default()
		c.Site.Footer = f
		if err := c.Validate(); err != nil {
			t.Errorf("footer %q: %v", f, err)
		}
	}
}
