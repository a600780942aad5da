package parse

import (
	"net/url"
	"strings"
	"testing"
)

func TestSanitiseHTML(t *testing.T) {
	base, _ := url.Parse("https://example.com/news/2024/story.html")
	policy := newPolicy()
	tests := []struct{ name, in, want string }{
		{"script removed", `<p>a</p><script>alert(1)</script>`, `<p>a</p>`},
		{"event handler removed", `<img src="https://x.org/a.png" onerror="alert(1)">`, `<img src="https://x.org/a.png">`},
		{"javascript: link removed", `<a href="javascript:alert(1)">x</a>`, `x`},
		{"style and iframe removed", `<style>p{}</style><iframe src="https://evil.example/"></iframe><p style="color:red">t</p>`, `<p>t</p>`},
		{"relative href made absolute", `<a href="../a.html">a</a>`,
			`<a href="https://example.com/news/a.html" rel="nofollow noopener" target="_blank">a</a>`},
		{"root-relative src made absolute", `<img src="/i/b.png" alt="b">`, `<img src="https://example.com/i/b.png" alt="b">`},
		{"fragment left alone", `<a href="#fn1">1</a>`, `<a href="#fn1" rel="nofollow">1</a>`},
		{"mailto kept", `<a href="mailto:a@b.c">m</a>`, `<a href="mailto:a@b.c" rel="nofollow">m</a>`},
		{"audio kept with src", `<audio src="ep.mp3" controls onplay="x()"></audio>`, `<audio src="https://example.com/news/2024/ep.mp3" controls=""></audio>`},
		{"only a script is empty", `<script>x</script>  `, ``},
		{"only white space entities is empty", `&nbsp; `, ``},
		{"text untouched", `a &amp; b`, `a &amp; b`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sanitiseHTML(policy, tt.in, base); got != tt.want {
				t.Errorf("sanitiseHTML(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestAbsoluteURLsCopiesUntouchedMarkup(t *testing.T) {
	base, _ := url.Parse("https://example.com/")
	in := `<P CLASS=x>Text &amp; <b>bold</b><!-- c --><img src='https://a.b/c.png'></P>`
	if got := absoluteURLs(in, base); got != in {
		t.Errorf("absoluteURLs changed %q to %q", in, got)
	}
	if got, want := absoluteURLs(`<img src=a.png alt="x&quot;y">`, base), `<img src="https://example.com/a.png" alt="x&#34;y">`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestPlainText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  Plain   title\n", "Plain title"},
		{"<b>Bold</b> &amp; <i>italic</i>", "Bold & italic"},
		{"&amp;lt;b&amp;gt;", "&lt;b&gt;"}, // entities are decoded once only
		{"a < b", "a < b"},
		{"Tom&#39;s <script>evil()</script>post", "Tom's post"},
		{"line<br>break", "line break"},
		{"한국어&nbsp;제목", "한국어 제목"},
	}
	for _, tt := range tests {
		if got := plainText(tt.in); got != tt.want {
			t.Errorf("plainText(%q)=%q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSanitiseDoesNotResolveWithoutBase(t *testing.T) {
	got := sanitiseHTML(newPolicy(), `<a href="x.html">x</a>`, nil)
	if !strings.Contains(got, `href="x.html"`) {
		t.Errorf("got %q", got)
	}
}
