package corpus

import (
	"bytes"
	"testing"
)

func TestUnique(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`<rss xmlns:a="http://x/"><item><title>T</title><link>http://e.x/1</link><guid isPermaLink="false">https://e.x/?p=1</guid></item></rss>`,
			`<rss xmlns:a="http://x/"><item><title>s7 T</title><link>http://s7.e.x/1</link><guid isPermaLink="false">https://s7.e.x/?p=1</guid></item></rss>`},
		{`<feed><entry><title type="html">T</title><link rel="alternate" href="https://e.x/a"/><id>tag:e.x,1:a</id></entry></feed>`,
			`<feed><entry><title type="html">s7 T</title><link rel="alternate" href="https://s7.e.x/a"/><id>tag:e.x,1:a</id></entry></feed>`},
		{`{"title": "T", "items": [{"id": "https:\/\/e.x\/1", "url": "http://e.x/1"}]}`,
			`{"title": "s7 T", "items": [{"id": "https:\/\/s7.e.x\/1", "url": "http://s7.e.x/1"}]}`},
	} {
		if got := Unique([]byte(tc.in), 7); !bytes.Equal(got, []byte(tc.want)) {
			t.Errorf("Unique(%s)\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}
