package parse

import (
	"net/url"
	"testing"
)

func TestMayHaveRelativeURL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{`<p>no links</p>`, false},
		{`<a href="https://x.example/a">a</a> <img src='http://x.example/i.png'>`, false},
		{`<a HREF = "mailto:a@x.example">m</a><a href=#n>n</a>`, false},
		{`<a href="/a">a</a>`, true},
		{`<a href=a.html>a</a>`, true},
		{`<a href="//x.example/a">protocol-relative</a>`, true},
		{`<IMG SRC = 'a.png'>`, true},
		{`<a href="&#104;ttps://x.example/">entity</a>`, true},
		{`<a href=" https://x.example/">space inside the quotes</a>`, true},
		{`<video poster="p.jpg"></video>`, true},
		{`<blockquote cite="https://x.example/q">q</blockquote><a href="https://x.example/ok">ok</a><img src="rel.png">`, true},
		{`text that says src= and stops`, true}, // not an attribute: a harmless false alarm
	} {
		if got := mayHaveRelativeURL(tc.in); got != tc.want {
			t.Errorf("mayHaveRelativeURL(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// FuzzMayHaveRelativeURL checks the fast path never changes what an item
// publishes: when it says no relative URL, the sanitised HTML is the same
// with and without the tokenizer pass. (Not the bytes before sanitising:
// the tokenizer drops a tag cut off at the end, and so does the policy.)
func FuzzMayHaveRelativeURL(f *testing.F) {
	for _, s := range []string{`<a href="https://x/">x</a>`, `<a href=a>`, `<img SRC="http://x/a" src=b>`, `<a href="#x">`, "<a\fhref\t=\n'/x'>"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://example.com/feed/")
	policy := newPolicy()
	f.Fuzz(func(t *testing.T, s string) {
		if mayHaveRelativeURL(s) {
			return
		}
		if fast, slow := policy.Sanitize(s), policy.Sanitize(resolveAll(s, base)); fast != slow {
			t.Fatalf("fast path changed %q: sanitised %q, with the tokenizer pass %q", s, fast, slow)
		}
	})
}
