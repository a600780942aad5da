package mail

import (
	"strings"
	"testing"

	"github.com/kpolicy/aggregator/internal/feed"
)

func TestParseAddressAccepts(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"reader@example.org", "reader@example.org"},
		{"  reader@example.org\t", "reader@example.org"},
		{"Reader.Name+news@Example.ORG", "Reader.Name+news@example.org"},
		{"o'brien@mail.example.co.kr", "o'brien@mail.example.co.kr"},
		{"a!#$%&'*+-/=?^_`{|}~z@example.org", "a!#$%&'*+-/=?^_`{|}~z@example.org"},
		{"reader@예시.한국", "reader@xn--vv4b11d.xn--3e0b707e"},
		{"reader@BÜCHER.example", "reader@xn--bcher-kva.example"},
		{strings.Repeat("a", 64) + "@example.org", strings.Repeat("a", 64) + "@example.org"},
	} {
		got, err := ParseAddress(tc.in)
		if err != nil {
			t.Errorf("ParseAddress(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseAddress(%q) = %q, want %q", tc.in, got, tc.want)
		}
		// The result is a fixed point: what the list keeps parses to itself.
		if again, err := ParseAddress(got); err != nil || again != got {
			t.Errorf("ParseAddress(%q) = %q, %v; want it unchanged", got, again, err)
		}
	}
}

func TestParseAddressRefuses(t *testing.T) {
	long := strings.Repeat("a", 60) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63) + ".org"
	for _, tc := range []struct{ in, says string }{
		{"", "enter your e-mail address"},
		{"   ", "enter your e-mail address"},
		{"reader", "needs an @"},
		{"reader@", "domain after the @ is missing"},
		{"@example.org", "before the @ is missing"},
		{"a@b@example.org", "only one @"},
		{"Reader <reader@example.org>", "alone"},
		{"<reader@example.org>", "alone"},
		{`"reader"@example.org`, "alone"},
		{"reader@example.org (me)", "alone"},
		{"reader@[192.0.2.1]", "alone"},
		{"reader@192.0.2.1", "not an IP address"},
		{"reader@localhost", "needs a dot"},
		{"reader@example.org.", "cannot end with a dot"},
		{"reader@exa_mple.org", "not a valid domain"},
		{"reader@-example.org", "not a valid domain"},
		{"reader@example..org", "not a valid domain"},
		{".reader@example.org", "dot"},
		{"re..ader@example.org", "dot"},
		{"독자@example.org", "ASCII"},
		{"reader@example.org\r\nBcc: victim@example.org", "one line"},
		{"reader@example.org\nX: y", "one line"},
		{"reader\x00@example.org", "one line"},
		{"reader\u202e@example.org", "one line"},
		{"reader\u200b@example.org", "one line"},
		{"a,b@example.org", "alone"},
		{strings.Repeat("a", 65) + "@example.org", "too long"},
		{long, "too long"},
		{strings.Repeat("a", 5000) + "@example.org", "too long"},
		{"reader@" + strings.Repeat("a", 64) + ".org", "not a valid domain"},
	} {
		got, err := ParseAddress(tc.in)
		if err == nil {
			t.Errorf("ParseAddress(%q) = %q, want an error saying %q", tc.in, got, tc.says)
			continue
		}
		if feed.ErrorCode(err) != feed.EINVALID {
			t.Errorf("ParseAddress(%q): code %q, want %q", tc.in, feed.ErrorCode(err), feed.EINVALID)
		}
		if msg := feed.ErrorMessage(err); !strings.Contains(msg, tc.says) {
			t.Errorf("ParseAddress(%q): %q, want it to say %q", tc.in, msg, tc.says)
		}
		if len(tc.in) > 3 && strings.Contains(feed.ErrorMessage(err), strings.TrimSpace(tc.in)) {
			t.Errorf("ParseAddress(%q): the message repeats the input: %q", tc.in, feed.ErrorMessage(err))
		}
	}
}

func TestParseFrom(t *testing.T) {
	a, err := ParseFrom("The Peninsula <Updates@KEIA.org>")
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "The Peninsula" || a.Address != "Updates@keia.org" {
		t.Errorf("ParseFrom = %q <%s>, want The Peninsula <Updates@keia.org>", a.Name, a.Address)
	}
	if a, err := ParseFrom("=?utf-8?b?7ZWc67CY64+E?= <news@example.org>"); err != nil || a.Name != "한반도" {
		t.Errorf("ParseFrom(encoded Korean name) = %v, %v; want 한반도", a, err)
	}
	if a, err := ParseFrom("news@example.org"); err != nil || a.Name != "" {
		t.Errorf("ParseFrom(bare) = %v, %v", a, err)
	}
	for _, bad := range []string{"", "The Peninsula", "The Peninsula <news@localhost>", "A <a@example.org>\r\nBcc: b@example.org", "a@example.org, b@example.org"} {
		if a, err := ParseFrom(bad); err == nil {
			t.Errorf("ParseFrom(%q) = %v, want an error", bad, a)
		}
	}
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"reader@example.org", "a@예시.한국", "Reader <r@example.org>", "r@example.org\r\nBcc: x@y.z", "\"q\"@x.org", "a@[1.2.3.4]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseAddress(s)
		if err != nil {
			if feed.ErrorCode(err) != feed.EINVALID {
				t.Fatalf("ParseAddress(%q): code %q", s, feed.ErrorCode(err))
			}
			return
		}
		if len(got) > maxAddress || strings.ContainsAny(got, "\r\n<>\" ,;") {
			t.Fatalf("ParseAddress(%q) = %q: not a bare address fit for a header", s, got)
		}
		for i := 0; i < len(got); i++ {
			if got[i] <= ' ' || got[i] > '~' {
				t.Fatalf("ParseAddress(%q) = %q: byte %#x is not printable ASCII", s, got, got[i])
			}
		}
		if again, err := ParseAddress(got); err != nil || again != got {
			t.Fatalf("ParseAddress(%q) = %q, but that parses to %q, %v", s, got, again, err)
		}
	})
}
