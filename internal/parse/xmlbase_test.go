package parse

import "testing"

func TestFixXMLBase(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"file base becomes its directory", `<feed xml:base="http://h/blog/index.html"><a/></feed>`, `<feed xml:base="http://h/blog/"><a/></feed>`},
		{"query and fragment dropped", `<e xml:base='http://h/a/b?x=1&amp;y=2#f'>`, `<e xml:base='http://h/a/'>`},
		{"directory base unchanged", `<e xml:base="http://h/a/">`, `<e xml:base="http://h/a/">`},
		{"host-only base unchanged", `<e xml:base="http://h">`, `<e xml:base="http://h">`},
		{"relative segment", `<e a="1" xml:base = "sub/page">`, `<e a="1" xml:base = "sub/">`},
		{"bare segment becomes empty", `<e xml:base="page">`, `<e xml:base="">`},
		{"comment untouched", `<!-- <e xml:base="http://h/x"> --><e/>`, `<!-- <e xml:base="http://h/x"> --><e/>`},
		{"CDATA untouched", `<c><![CDATA[<e xml:base="http://h/x">]]></c>`, `<c><![CDATA[<e xml:base="http://h/x">]]></c>`},
		{"text untouched", `<c>say xml:base="http://h/x"</c>`, `<c>say xml:base="http://h/x"</c>`},
		{"attribute value mentioning it untouched", `<c t=' xml:base="http://h/x"'/>`, `<c t=' xml:base="http://h/x"'/>`},
		{"unterminated", `<e xml:base="http://h/x`, `<e xml:base="http://h/x`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(fixXMLBase([]byte(tt.in))); got != tt.want {
				t.Errorf("fixXMLBase(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}
