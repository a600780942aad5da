package parse

import "testing"

// TestParseHubAndSelf reads the WebSub links a feed names (WebSub §4): an
// Atom feed's own links and an RSS channel's atom:link, relative ones made
// absolute; a feed with a hub but no self names neither.
func TestParseHubAndSelf(t *testing.T) {
	cases := []struct {
		name, doc, hub, self string
	}{
		{"atom", `<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:x</id>
<link rel="self" href="/feed.atom"/><link rel="hub" href="https://hub.example/"/><link rel="hub" href="https://second.example/"/>
<entry><id>urn:1</id><title>a</title><link href="https://example.org/1"/></entry></feed>`,
			"https://hub.example/", "https://example.org/feed.atom"},
		{"rss atom:link", `<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>t</title><link>https://example.org/</link>
<atom:link rel="hub" href="https://hub.example/hub"/><atom:link rel="self" href="https://example.org/rss" type="application/rss+xml"/>
<item><title>a</title><link>https://example.org/1</link></item></channel></rss>`,
			"https://hub.example/hub", "https://example.org/rss"},
		{"hub without self", `<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:x</id>
<link rel="hub" href="https://hub.example/"/><entry><id>urn:1</id><title>a</title><link href="https://example.org/1"/></entry></feed>`,
			"", ""},
		{"none", `<rss version="2.0"><channel><title>t</title><item><title>a</title><link>https://example.org/1</link></item></channel></rss>`,
			"", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := New().Parse([]byte(c.doc), "", "https://example.org/feed", "s")
			if err != nil {
				t.Fatal(err)
			}
			if got.Hub != c.hub || got.Self != c.self {
				t.Fatalf("hub=%q self=%q, want %q %q", got.Hub, got.Self, c.hub, c.self)
			}
		})
	}
}
