package feed

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestIdentity(t *testing.T) {
	for _, tc := range []struct{ id, link, title, content, want string }{
		{" guid-1 ", "https://example.org/a", "T", "C", "id:guid-1"},
		{"", " https://example.org/a ", "T", "C", "link:example.org/a"},
		{"", "", "T", "C", "hash:"},
	} {
		if got := Identity(tc.id, tc.link, tc.title, tc.content); !strings.HasPrefix(got, tc.want) {
			t.Errorf("Identity(%q,%q,%q,%q)=%q, want prefix %q", tc.id, tc.link, tc.title, tc.content, got, tc.want)
		}
	}
	if a, b := Identity("", "", "T", "C"), Identity("", "", "T", "C"); a != b {
		t.Errorf("hash identity not stable: %s vs %s", a, b)
	}
	// Title and content are separated, so moving text between them changes the identity.
	if a, b := Identity("", "", "ab", "c"), Identity("", "", "a", "bc"); a == b {
		t.Errorf("identities collide: %s", a)
	}
}

func TestSameContent(t *testing.T) {
	base := Item{Title: "T", Summary: "S", Authors: []Person{{Name: "Kim"}}, Updated: time.Unix(1, 0)}
	bumped := base
	bumped.Updated = time.Unix(2, 0)
	if !SameContent(base, bumped) {
		t.Error("an Updated bump alone counts as a change")
	}
	edited := base
	edited.Authors = []Person{{Name: "Lee"}}
	if SameContent(base, edited) {
		t.Error("a changed author does not count as a change")
	}
}

func TestChannelSelects(t *testing.T) {
	sources := []Source{{ID: "a", Tags: []string{"news"}}, {ID: "b"}, {ID: "c", Tags: []string{"think-tank"}}}
	ch := Channel{Sources: []string{"b"}, Tags: []string{"think-tank"}}
	if got, want := fmt.Sprint(ch.SourceIDs(sources)), "[b c]"; got != want {
		t.Errorf("SourceIDs=%s, want %s", got, want)
	}
}

func TestErrorCode(t *testing.T) {
	err := fmt.Errorf("lookup: %w", Errorf(ENOTFOUND, "no such channel %q", "x"))
	if got := ErrorCode(err); got != ENOTFOUND {
		t.Errorf("code=%q", got)
	}
	if got := ErrorMessage(err); got != `no such channel "x"` {
		t.Errorf("message=%q", got)
	}
	if ErrorCode(errors.New("disk")) != EINTERNAL || ErrorMessage(errors.New("disk")) != "internal error" || ErrorCode(nil) != "" {
		t.Error("plain errors are not internal")
	}
}
