package mail

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

func testTokens(t testing.TB, fill byte) *Tokens {
	t.Helper()
	tok, err := NewTokens(bytes.Repeat([]byte{fill}, SecretSize))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

var t0 = time.Date(2026, 3, 5, 7, 0, 0, 0, time.UTC)

func TestTokenRoundTrip(t *testing.T) {
	tok := testTokens(t, 1)
	long := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 57) + ".org"
	for _, p := range []Purpose{Confirm, Unsubscribe, Manage} {
		for _, addr := range []string{"reader@example.org", long} {
			s := tok.Make(p, "the-peninsula", addr, t0)
			if len(s) > 500 {
				t.Errorf("%s token for a %d-byte address is %d characters, want at most 500", p, len(addr), len(s))
			}
			if strings.Contains(s, addr) || strings.Contains(s, base64.RawURLEncoding.EncodeToString([]byte(addr))[:8]) {
				t.Errorf("%s token shows the address: %s", p, s)
			}
			c, err := tok.Open(s, p, t0.Add(time.Hour))
			if err != nil {
				t.Fatalf("Open(%s token): %v", p, err)
			}
			if c.Purpose != p || c.Channel != "the-peninsula" || c.Address != addr {
				t.Errorf("Open(%s token) = %+v", p, c)
			}
			if got, want := !c.Expires.IsZero(), p == Confirm; got != want {
				t.Errorf("%s token: expires %v, want an expiry: %v", p, c.Expires, want)
			}
		}
	}
}

func TestTokenBoundToPurpose(t *testing.T) {
	tok := testTokens(t, 1)
	for _, made := range []Purpose{Confirm, Unsubscribe, Manage} {
		s := tok.Make(made, "ch", "reader@example.org", t0)
		for _, used := range []Purpose{Confirm, Unsubscribe, Manage} {
			_, err := tok.Open(s, used, t0)
			if ok := err == nil; ok != (made == used) {
				t.Errorf("a %s token opened as %s: err=%v", made, used, err)
			}
		}
	}
}

func TestTokenRefusesForgeries(t *testing.T) {
	tok := testTokens(t, 1)
	s := tok.Make(Unsubscribe, "ch", "reader@example.org", t0)
	raw, _ := base64.RawURLEncoding.DecodeString(s)
	var cases = map[string]string{
		"empty":          "",
		"garbage":        "not-a-token",
		"not base64":     s[:10] + "*" + s[11:],
		"cut short":      s[:len(s)-4],
		"one more byte":  s + "A",
		"huge":           strings.Repeat("A", 100_000),
		"other secret":   testTokens(t, 2).Make(Unsubscribe, "ch", "reader@example.org", t0),
		"wrong version":  base64.RawURLEncoding.EncodeToString(append([]byte{2}, raw[1:]...)),
		"no ciphertext":  base64.RawURLEncoding.EncodeToString(raw[:13]),
		"only a version": "AQ",
	}
	for i := 13; i < len(raw); i += 7 { // every part of the sealed text
		b := bytes.Clone(raw)
		b[i] ^= 0x40
		cases[fmt.Sprintf("bit flipped at byte %d", i)] = base64.RawURLEncoding.EncodeToString(b)
	}
	for name, forged := range cases {
		c, err := tok.Open(forged, Unsubscribe, t0)
		if !errors.Is(err, ErrInvalidLink) {
			t.Errorf("%s: Open = %+v, %v; want ErrInvalidLink", name, c, err)
		}
	}
	if feed.ErrorCode(ErrInvalidLink) != feed.EINVALID || feed.ErrorCode(ErrExpiredLink) != feed.EINVALID {
		t.Error("link errors must be EINVALID, for a 4xx page")
	}
}

func TestTokenUnguessable(t *testing.T) {
	tok := testTokens(t, 1)
	seen := map[string]bool{}
	for range 1000 {
		s := tok.Make(Unsubscribe, "ch", "reader@example.org", t0)
		if seen[s] {
			t.Fatalf("the same token twice: %s", s)
		}
		seen[s] = true
	}
}

func TestConfirmTokenExpires(t *testing.T) {
	tok := testTokens(t, 1)
	s := tok.Make(Confirm, "ch", "reader@example.org", t0)
	if _, err := tok.Open(s, Confirm, t0.Add(ConfirmTTL-time.Second)); err != nil {
		t.Errorf("a second before expiry: %v", err)
	}
	c, err := tok.Open(s, Confirm, t0.Add(ConfirmTTL))
	if !errors.Is(err, ErrExpiredLink) {
		t.Errorf("at expiry: %v, want ErrExpiredLink", err)
	}
	if c.Address != "reader@example.org" {
		t.Errorf("an expired token still says who it was for (to offer a new one); got %+v", c)
	}
	u := tok.Make(Unsubscribe, "ch", "reader@example.org", t0)
	if _, err := tok.Open(u, Unsubscribe, t0.Add(10*365*24*time.Hour)); err != nil {
		t.Errorf("an unsubscribe link ten years on: %v", err)
	}
}

func TestNewTokensNeedsASecret(t *testing.T) {
	if _, err := NewTokens(make([]byte, SecretSize-1)); err == nil {
		t.Error("NewTokens took a short secret")
	}
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecret()
	if len(a) != SecretSize || bytes.Equal(a, b) {
		t.Errorf("NewSecret = %x, %x: want two different %d-byte secrets", a, b, SecretSize)
	}
}

func FuzzTokenOpen(f *testing.F) {
	tok := testTokens(f, 1)
	f.Add(tok.Make(Confirm, "ch", "reader@example.org", t0))
	f.Add("AQ")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := tok.Open(s, Confirm, t0)
		if err == nil && (c.Channel != "ch" || c.Address != "reader@example.org") {
			t.Fatalf("Open(%q) = %+v: a forged token was accepted", s, c)
		}
	})
}
