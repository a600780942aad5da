package mail

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// TestConfirmLimit: one confirmation per address per hour.
func TestConfirmLimit(t *testing.T) {
	l := NewKeyLimit(100, ConfirmEvery, 1)
	if !l.Allow("a@example.org", t0) {
		t.Fatal("the first confirmation was refused")
	}
	for _, at := range []time.Duration{0, time.Second, 30 * time.Minute, time.Hour - time.Second} {
		if l.Allow("a@example.org", t0.Add(at)) {
			t.Errorf("a second confirmation %v after the first was allowed", at)
		}
	}
	if !l.Allow("b@example.org", t0) {
		t.Error("another address was refused")
	}
	if !l.Allow("a@example.org", t0.Add(time.Hour)) {
		t.Error("an hour later the address was still refused")
	}
	if l.Allow("a@example.org", t0.Add(time.Hour+time.Minute)) {
		t.Error("two confirmations within an hour after the first hour")
	}
}

// TestSignupLimit: a burst, then the rate.
func TestSignupLimit(t *testing.T) {
	l := NewKeyLimit(100, time.Hour/SignupsPerHour, SignupBurst)
	ip := ClientKey(netip.MustParseAddr("192.0.2.7"))
	allowed := 0
	for i := range 100 {
		if l.Allow(ip, t0.Add(time.Duration(i)*time.Second)) {
			allowed++
		}
	}
	if allowed != SignupBurst {
		t.Errorf("100 sign-ups in 100 s: %d allowed, want the burst of %d", allowed, SignupBurst)
	}
	allowed = 0
	for m := range 60 { // one a minute for the next hour
		if l.Allow(ip, t0.Add(2*time.Minute+time.Duration(m)*time.Minute)) {
			allowed++
		}
	}
	if allowed < SignupsPerHour-1 || allowed > SignupsPerHour+1 {
		t.Errorf("one sign-up a minute for an hour: %d allowed, want about %d", allowed, SignupsPerHour)
	}
}

// TestKeyLimitIsBounded: a flood of distinct keys never holds more than
// the cap, and an evicted key is allowed again (never wrongly refused).
func TestKeyLimitIsBounded(t *testing.T) {
	l := NewKeyLimit(1000, time.Hour, 1)
	for i := range 50_000 {
		l.Allow(fmt.Sprintf("user%d@example.org", i), t0)
		if l.Len() > 1000 {
			t.Fatalf("after %d keys the limit holds %d, more than its cap of 1000", i+1, l.Len())
		}
	}
	if !l.Allow("user0@example.org", t0) {
		t.Error("a key evicted long ago was refused: eviction must only ever allow")
	}
	if l.Allow("user49999@example.org", t0) {
		t.Error("the most recent key was forgotten")
	}
}

func TestClientKey(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
	} {
		if ka, kb := ClientKey(netip.MustParseAddr(tc.a)), ClientKey(netip.MustParseAddr(tc.b)); ka != kb {
			t.Errorf("ClientKey(%s) = %s, ClientKey(%s) = %s; want one key", tc.a, ka, tc.b, kb)
		}
	}
	for _, tc := range []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:3::1"},
		{"192.0.2.1", "192.0.2.2"},
	} {
		if ka, kb := ClientKey(netip.MustParseAddr(tc.a)), ClientKey(netip.MustParseAddr(tc.b)); ka == kb {
			t.Errorf("ClientKey(%s) = ClientKey(%s) = %s; want two keys", tc.a, tc.b, ka)
		}
	}
}

// BenchmarkKeyLimitMemory reports the heap a full KeyLimit of LimitKeys
// addresses holds.
func BenchmarkKeyLimitMemory(b *testing.B) {
	keys := make([]string, LimitKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("subscriber%06d@example.org", i)
	}
	var perKey float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		l := NewKeyLimit(LimitKeys, ConfirmEvery, 1)
		for _, k := range keys {
			l.Allow(k, t0)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perKey = float64(after.HeapAlloc-before.HeapAlloc) / LimitKeys
		runtime.KeepAlive(l)
	}
	b.ReportMetric(perKey, "B/key")
	b.ReportMetric(perKey*LimitKeys/1e6, "MB/full")
}

func BenchmarkKeyLimitAllow(b *testing.B) {
	l := NewKeyLimit(LimitKeys, ConfirmEvery, 1)
	i := 0
	for b.Loop() {
		l.Allow(fmt.Sprintf("s%d@example.org", i%200_000), t0)
		i++
	}
}
