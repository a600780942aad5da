package postgres

import (
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/store/postgres/pgtest"
	"github.com/kpolicy/aggregator/internal/store/storetest"
)

// TestLeasesSkewedClocks shows that leases keep to the database's clock:
// an instance whose clock is an hour ahead neither takes a lease another
// holds nor sees it as expired.
func TestLeasesSkewedClocks(t *testing.T) {
	u := pgtest.Schema(t)
	a := openURL(t, u, storetest.Options{})
	t.Cleanup(func() { a.Close() })
	ahead := func() time.Time { return time.Now().Add(time.Hour) }
	b := openURL(t, u, storetest.Options{Now: ahead})
	t.Cleanup(func() { b.Close() })

	if c, err := a.ClaimPoll(bg, "A", "s", "h", time.Time{}, time.Minute, 0); err != nil || !c.Held {
		t.Fatalf("A's claim: %+v, %v", c, err)
	}
	c, err := b.ClaimPoll(bg, "B", "s", "h", time.Time{}, time.Minute, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.Held || c.Wait <= 0 || c.Wait > time.Minute {
		t.Errorf("B's claim, its clock an hour ahead: %+v, want not held, a wait within the lease", c)
	}
	if ok, err := a.HoldRole(bg, "hub", "A", time.Minute); err != nil || !ok {
		t.Fatalf("A's role: %v, %v", ok, err)
	}
	if ok, err := b.HoldRole(bg, "hub", "B", time.Minute); err != nil || ok {
		t.Errorf("B's HoldRole, its clock an hour ahead: %v, %v, want not held", ok, err)
	}
}
