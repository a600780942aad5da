package storetest

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

// The mailing lists' cases (store.Lists).
var listCases = []testCase{
	{"ListsSubscribers", testListsSubscribers},
	{"ListsConfirm", testListsConfirm},
	{"ListsClaims", testListsClaims},
	{"ListsDigestClaims", testListsDigestClaims},
	{"ListsBounces", testListsBounces},
	{"ListsConcurrentClaims", testListsConcurrentClaims},
	{"ListsErase", testListsErase},
	{"ListsReopen", testListsReopen},
	{"ListsImport", testListsImport},
}

func addSub(t testing.TB, s store.Store, channel, address string) store.Subscriber {
	t.Helper()
	got, created, err := s.AddSubscriber(bg, store.Subscriber{Channel: channel, Address: address, Created: epoch})
	if err != nil || !created {
		t.Fatalf("AddSubscriber(%s, %s) = %v, %v", channel, address, created, err)
	}
	return got
}

func confirmSub(t testing.TB, s store.Store, channel, address string, from uint64) store.Subscriber {
	t.Helper()
	addSub(t, s, channel, address)
	got, err := s.ConfirmSubscriber(bg, channel, address, epoch, from)
	if err != nil {
		t.Fatalf("ConfirmSubscriber(%s, %s): %v", channel, address, err)
	}
	return got
}

func testListsSubscribers(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	for _, a := range []string{"c@x.org", "a@x.org", "b@x.org"} {
		got := addSub(t, s, "ch", a)
		if got.State != store.Pending || got.Address != a || !got.Created.Equal(epoch) {
			t.Errorf("AddSubscriber(%s) = %+v", a, got)
		}
	}
	addSub(t, s, "other", "a@x.org")
	again, created, err := s.AddSubscriber(bg, store.Subscriber{Channel: "ch", Address: "a@x.org", Created: epoch.Add(time.Hour)})
	if err != nil || created || !again.Created.Equal(epoch) {
		t.Errorf("AddSubscriber again = %+v, %v, %v; want the first record, not created", again, created, err)
	}
	var pages [][]string
	after := ""
	for {
		page, err := s.Subscribers(bg, "ch", after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		var addrs []string
		for _, sub := range page {
			addrs = append(addrs, sub.Address)
		}
		pages = append(pages, addrs)
		after = page[len(page)-1].Address
	}
	if got, want := fmt.Sprint(pages), "[[a@x.org b@x.org] [c@x.org]]"; got != want {
		t.Errorf("pages %s, want %s", got, want)
	}
	if none, _ := s.Subscribers(bg, "ch", "", 0); len(none) != 0 {
		t.Errorf("limit 0 returned %d", len(none))
	}
	if _, err := s.ConfirmSubscriber(bg, "ch", "a@x.org", epoch, 7); err != nil {
		t.Fatal(err)
	}
	if n, err := s.ListCounts(bg, "ch"); err != nil || n != (store.ListCounts{Confirmed: 1, Pending: 2}) {
		t.Errorf("ListCounts = %+v, %v", n, err)
	}
	if err := s.SetDigest(bg, "ch", "a@x.org", feed.DigestWeekly); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "SetDigest(monthly)", s.SetDigest(bg, "ch", "a@x.org", "monthly"), feed.EINVALID)
	wantCode(t, "SetDigest(missing)", s.SetDigest(bg, "ch", "nobody@x.org", ""), feed.ENOTFOUND)
	if got, err := s.Subscriber(bg, "ch", "a@x.org"); err != nil || got.Digest != feed.DigestWeekly || got.SentSeq != 7 {
		t.Errorf("Subscriber = %+v, %v", got, err)
	}
	_, err = s.Subscriber(bg, "ch", "nobody@x.org")
	wantCode(t, "Subscriber(missing)", err, feed.ENOTFOUND)
	if err := s.RemoveSubscriber(bg, "ch", "b@x.org"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveSubscriber(bg, "ch", "b@x.org"); err != nil {
		t.Errorf("removing twice: %v", err)
	}
	_, err = s.Subscriber(bg, "ch", "b@x.org")
	wantCode(t, "Subscriber(removed)", err, feed.ENOTFOUND)

	for _, bad := range []store.Subscriber{
		{Channel: "ch", Address: "a@x.org\r\nBcc: all@x.org"},
		{Channel: "ch", Address: "a\x00@x.org"},
		{Channel: "ch", Address: ""},
		{Channel: "", Address: "a@x.org"},
		{Channel: "ch", Address: strings.Repeat("a", store.MaxListAddress+1)},
		{Channel: strings.Repeat("c", store.MaxListChannel+1), Address: "a@x.org"},
		{Channel: "ch", Address: "d@x.org", Digest: "hourly"},
	} {
		_, _, err := s.AddSubscriber(bg, bad)
		wantCode(t, fmt.Sprintf("AddSubscriber(%.40q)", bad.Address), err, feed.EINVALID)
	}
	if all, _ := s.Subscribers(bg, "ch", "", 100); len(all) != 2 {
		t.Errorf("after bad input the list has %d, want 2", len(all))
	}
}

func testListsConfirm(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	addSub(t, s, "ch", "a@x.org")
	for i, c := range []struct {
		at   time.Duration
		want bool
	}{{0, true}, {30 * time.Minute, false}, {59 * time.Minute, false}, {61 * time.Minute, true}} {
		got, err := s.MarkConfirmSent(bg, "ch", "a@x.org", epoch.Add(c.at), time.Hour)
		if err != nil || got != c.want {
			t.Errorf("MarkConfirmSent #%d at +%v = %v, %v; want %v", i, c.at, got, err, c.want)
		}
	}
	_, err := s.MarkConfirmSent(bg, "ch", "nobody@x.org", epoch, time.Hour)
	wantCode(t, "MarkConfirmSent(missing)", err, feed.ENOTFOUND)
	got, err := s.ConfirmSubscriber(bg, "ch", "a@x.org", epoch.Add(2*time.Hour), 42)
	if err != nil || got.State != store.Confirmed || got.SentSeq != 42 || !got.Confirmed.Equal(epoch.Add(2*time.Hour)) ||
		!got.LastPeriod.Equal(epoch.Add(2*time.Hour)) || !got.ConfirmSent.Equal(epoch.Add(61*time.Minute)) {
		t.Errorf("ConfirmSubscriber = %+v, %v", got, err)
	}
	if again, err := s.ConfirmSubscriber(bg, "ch", "a@x.org", epoch.Add(3*time.Hour), 99); err != nil || again.SentSeq != 42 {
		t.Errorf("confirming twice = %+v, %v; want unchanged", again, err)
	}
	if ok, err := s.MarkConfirmSent(bg, "ch", "a@x.org", epoch.Add(9*time.Hour), time.Hour); err != nil || ok {
		t.Errorf("MarkConfirmSent of a confirmed subscriber = %v, %v; want false", ok, err)
	}
	_, err = s.ConfirmSubscriber(bg, "ch", "nobody@x.org", epoch, 1)
	wantCode(t, "ConfirmSubscriber(missing)", err, feed.ENOTFOUND)

	// Pending sign-ups expire; confirmed ones stay.
	addSub(t, s, "ch", "old@x.org")
	if _, _, err := s.AddSubscriber(bg, store.Subscriber{Channel: "ch", Address: "new@x.org", Created: epoch.Add(8 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PrunePending(bg, epoch.Add(7*24*time.Hour)); err != nil || n != 1 {
		t.Errorf("PrunePending = %d, %v; want 1", n, err)
	}
	if n, _ := s.ListCounts(bg, "ch"); n != (store.ListCounts{Confirmed: 1, Pending: 1}) {
		t.Errorf("after prune %+v", n)
	}
}

func claim(owner string, upTo uint64, now time.Time) store.SendClaim {
	return store.SendClaim{Channel: "ch", Address: "a@x.org", Owner: owner, Now: now, Until: now.Add(time.Minute), UpTo: upTo}
}

func testListsClaims(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	addSub(t, s, "ch", "a@x.org")
	if _, ok, err := s.ClaimSend(bg, claim("one", 5, epoch)); err != nil || ok {
		t.Errorf("claim of a pending subscriber = %v, %v; want false", ok, err)
	}
	if _, err := s.ConfirmSubscriber(bg, "ch", "a@x.org", epoch, 3); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.ClaimSend(bg, claim("one", 3, epoch)); ok {
		t.Errorf("claim with nothing new (UpTo = SentSeq) was taken")
	}
	got, ok, err := s.ClaimSend(bg, claim("one", 5, epoch))
	if err != nil || !ok || !sameSend(got.Pending, store.Send{After: 3, UpTo: 5}) || got.Owner != "one" {
		t.Fatalf("claim = %+v, %v, %v", got, ok, err)
	}
	if _, ok, _ := s.ClaimSend(bg, claim("two", 6, epoch.Add(30*time.Second))); ok {
		t.Errorf("another owner took an unexpired claim")
	}
	// "one" crashed: after the claim expires "two" gets the same send.
	got, ok, err = s.ClaimSend(bg, claim("two", 6, epoch.Add(2*time.Minute)))
	if err != nil || !ok || !sameSend(got.Pending, store.Send{After: 3, UpTo: 5}) {
		t.Fatalf("claim after expiry = %+v, %v, %v; want the unfinished send {3 5}", got, ok, err)
	}
	_, err = s.FinishSend(bg, "ch", "a@x.org", "one", store.SendResult{Now: epoch, Sent: true, Mailed: true})
	wantCode(t, "FinishSend by the old owner", err, feed.ECONFLICT)
	// A temporary failure keeps the send for the retry.
	got, err = s.FinishSend(bg, "ch", "a@x.org", "two", store.SendResult{Now: epoch, Err: "421 try later"})
	if err != nil || got.Pending == nil || got.Owner != "" || got.LastError != "421 try later" || got.SentSeq != 3 {
		t.Fatalf("after a temporary failure %+v, %v", got, err)
	}
	got, ok, _ = s.ClaimSend(bg, claim("two", 9, epoch.Add(3*time.Minute)))
	if !ok || !sameSend(got.Pending, store.Send{After: 3, UpTo: 5}) {
		t.Fatalf("retry claim = %+v, %v", got, ok)
	}
	now := epoch.Add(4 * time.Minute)
	got, err = s.FinishSend(bg, "ch", "a@x.org", "two", store.SendResult{Now: now, Sent: true, Mailed: true})
	if err != nil || got.Pending != nil || got.SentSeq != 5 || got.Sends != 1 || !got.LastSent.Equal(now) || got.LastError != "" {
		t.Fatalf("after sending %+v, %v", got, err)
	}
	_, err = s.FinishSend(bg, "ch", "a@x.org", "two", store.SendResult{Now: now, Sent: true})
	wantCode(t, "FinishSend twice", err, feed.ECONFLICT)
	got, ok, _ = s.ClaimSend(bg, claim("one", 9, now))
	if !ok || !sameSend(got.Pending, store.Send{After: 5, UpTo: 9}) {
		t.Fatalf("next claim = %+v, %v", got, ok)
	}
	_, _, err = s.ClaimSend(bg, store.SendClaim{Channel: "ch", Address: "nobody@x.org", Owner: "one", Now: now, UpTo: 9})
	wantCode(t, "ClaimSend(missing)", err, feed.ENOTFOUND)
}

func testListsDigestClaims(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	confirmSub(t, s, "ch", "a@x.org", 10) // LastPeriod = epoch
	day := func(n int) time.Time { return epoch.Add(time.Duration(n) * 24 * time.Hour) }
	c := claim("one", 10, day(1))
	c.Period = day(1)
	got, ok, err := s.ClaimSend(bg, c)
	if err != nil || !ok || !sameSend(got.Pending, store.Send{After: 10, UpTo: 10, Period: day(1)}) {
		t.Fatalf("digest claim with no items = %+v, %v, %v", got, ok, err)
	}
	got, err = s.FinishSend(bg, "ch", "a@x.org", "one", store.SendResult{Now: day(1), Sent: true})
	if err != nil || !got.LastPeriod.Equal(day(1)) || got.Sends != 0 || !got.LastSent.IsZero() {
		t.Fatalf("after an empty digest %+v, %v", got, err)
	}
	// The same period again, with new items: nothing (one digest a period).
	c.UpTo = 12
	if _, ok, _ := s.ClaimSend(bg, c); ok {
		t.Errorf("a second claim for one period was taken")
	}
	c.Period, c.Now, c.Until = day(2), day(2), day(2).Add(time.Minute)
	got, ok, _ = s.ClaimSend(bg, c)
	if !ok || !sameSend(got.Pending, store.Send{After: 10, UpTo: 12, Period: day(2)}) {
		t.Fatalf("next period's claim = %+v, %v", got, ok)
	}
}

func testListsBounces(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	confirmSub(t, s, "ch", "a@x.org", 0)
	for i := 1; i <= store.MaxBounces; i++ {
		now := epoch.Add(time.Duration(i) * time.Hour)
		if _, ok, err := s.ClaimSend(bg, claim("one", 1, now)); err != nil || !ok {
			t.Fatalf("claim #%d: %v, %v", i, ok, err)
		}
		got, err := s.FinishSend(bg, "ch", "a@x.org", "one", store.SendResult{Now: now, Rejected: true, Err: "550 no such user"})
		if err != nil || got.Bounces != i {
			t.Fatalf("rejection #%d: %+v, %v", i, got, err)
		}
		if want := i < store.MaxBounces; (got.State == store.Confirmed) != want || (got.Pending != nil) != want {
			t.Errorf("after %d rejections: state %s, pending %v", i, got.State, got.Pending)
		}
	}
	if _, ok, _ := s.ClaimSend(bg, claim("one", 2, epoch.Add(9*time.Hour))); ok {
		t.Errorf("a bounced subscriber was claimed")
	}
	// A refusal's Wait holds off the next claim, whoever asks.
	confirmSub(t, s, "ch", "w@x.org", 0)
	wc := claim("one", 1, epoch)
	wc.Address = "w@x.org"
	s.ClaimSend(bg, wc)
	s.FinishSend(bg, "ch", "w@x.org", "one", store.SendResult{Now: epoch, Rejected: true, Err: "550", Wait: time.Hour})
	for _, c := range []struct {
		owner string
		at    time.Duration
		want  bool
	}{{"one", 30 * time.Minute, false}, {"two", 59 * time.Minute, false}, {"two", 61 * time.Minute, true}} {
		wc.Owner, wc.Now, wc.Until = c.owner, epoch.Add(c.at), epoch.Add(c.at+time.Minute)
		if _, ok, _ := s.ClaimSend(bg, wc); ok != c.want {
			t.Errorf("claim by %s at +%v after a refusal with Wait 1h: %v, want %v", c.owner, c.at, ok, c.want)
		}
	}
	if n, _ := s.ListCounts(bg, "ch"); n != (store.ListCounts{Bounced: 1, Confirmed: 1}) {
		t.Errorf("counts %+v", n)
	}
	// Signing up again starts over.
	got, created, err := s.AddSubscriber(bg, store.Subscriber{Channel: "ch", Address: "a@x.org", Created: epoch.Add(10 * time.Hour)})
	if err != nil || !created || got.State != store.Pending || got.Bounces != 0 {
		t.Errorf("sign-up of a bounced address = %+v, %v, %v", got, created, err)
	}
	// A success resets the count.
	confirmSub(t, s, "ch", "b@x.org", 0)
	bc := claim("one", 1, epoch)
	bc.Address = "b@x.org"
	s.ClaimSend(bg, bc)
	s.FinishSend(bg, "ch", "b@x.org", "one", store.SendResult{Now: epoch, Rejected: true, Err: "550"})
	s.ClaimSend(bg, bc)
	if got, _ := s.FinishSend(bg, "ch", "b@x.org", "one", store.SendResult{Now: epoch, Sent: true, Mailed: true}); got.Bounces != 0 {
		t.Errorf("bounces after a success: %d", got.Bounces)
	}
}

// testListsConcurrentClaims has owners race for each subscriber's send:
// exactly one takes each.
func testListsConcurrentClaims(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	const subs, owners = 20, 4
	for i := range subs {
		confirmSub(t, s, "ch", fmt.Sprintf("u%02d@x.org", i), 0)
	}
	var (
		mu   sync.Mutex
		won  = map[string][]string{}
		wg   sync.WaitGroup
		errs = make(chan error, subs*owners)
	)
	for o := range owners {
		owner := fmt.Sprintf("owner%d", o)
		wg.Go(func() {
			for i := range subs {
				addr := fmt.Sprintf("u%02d@x.org", i)
				c := store.SendClaim{Channel: "ch", Address: addr, Owner: owner, Now: epoch, Until: epoch.Add(time.Minute), UpTo: 1}
				got, ok, err := s.ClaimSend(bg, c)
				if err != nil {
					errs <- err
					return
				}
				if !ok {
					continue
				}
				if got.Pending == nil || got.Pending.UpTo != 1 {
					errs <- fmt.Errorf("claim of %s: %+v", addr, got)
				}
				if _, err := s.FinishSend(bg, "ch", addr, owner, store.SendResult{Now: epoch, Sent: true, Mailed: true}); err != nil {
					errs <- err
				}
				mu.Lock()
				won[addr] = append(won[addr], owner)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range subs {
		addr := fmt.Sprintf("u%02d@x.org", i)
		if len(won[addr]) != 1 {
			t.Errorf("%s was sent by %v, want exactly one owner", addr, won[addr])
		}
		if got, _ := s.Subscriber(bg, "ch", addr); got.Sends != 1 || got.SentSeq != 1 {
			t.Errorf("%s: sends %d, sent seq %d", addr, got.Sends, got.SentSeq)
		}
	}
}

func testListsErase(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	for _, ch := range []string{"b-chan", "a-chan", "c-chan"} {
		addSub(t, s, ch, "gone@x.org")
		addSub(t, s, ch, "stays@x.org")
	}
	addSub(t, s, "d-chan", "gone@x.org.uk") // a longer address, not the same
	confirmSub(t, s, "e-chan", "gone@x.org", 0)
	s.ClaimSend(bg, store.SendClaim{Channel: "e-chan", Address: "gone@x.org", Owner: "o", Now: epoch, Until: epoch.Add(time.Minute), UpTo: 4})
	chans, err := s.EraseAddress(bg, "gone@x.org")
	if err != nil || !slices.Equal(chans, []string{"a-chan", "b-chan", "c-chan", "e-chan"}) {
		t.Errorf("EraseAddress = %v, %v", chans, err)
	}
	for _, ch := range []string{"a-chan", "b-chan", "c-chan", "e-chan"} {
		_, err := s.Subscriber(bg, ch, "gone@x.org")
		wantCode(t, "erased "+ch, err, feed.ENOTFOUND)
		if all, _ := s.Subscribers(bg, ch, "", 10); ch != "e-chan" && len(all) != 1 {
			t.Errorf("%s has %d after erase, want 1", ch, len(all))
		}
	}
	if _, err := s.Subscriber(bg, "d-chan", "gone@x.org.uk"); err != nil {
		t.Errorf("another address went too: %v", err)
	}
	if chans, err := s.EraseAddress(bg, "nobody@x.org"); err != nil || len(chans) != 0 {
		t.Errorf("erasing an unknown address = %v, %v", chans, err)
	}
}

func testListsReopen(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	secret := bytes.Repeat([]byte{7}, 32)
	got, err := s.MailSecret(bg, secret)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("MailSecret = %x, %v", got, err)
	}
	if got, _ := s.MailSecret(bg, bytes.Repeat([]byte{9}, 32)); !bytes.Equal(got, secret) {
		t.Errorf("a second candidate replaced the secret")
	}
	_, err = s.MailSecret(bg, []byte("short"))
	wantCode(t, "MailSecret(short)", err, feed.EINVALID)
	confirmSub(t, s, "ch", "a@x.org", 3)
	c := claim("one", 8, epoch)
	c.Period = epoch.Add(time.Hour)
	if _, ok, err := s.ClaimSend(bg, c); !ok || err != nil {
		t.Fatal(ok, err)
	}
	s2 := b.Reopen(t, s, Options{Now: fixed})
	t.Cleanup(func() { s2.Close() })
	sub, err := s2.Subscriber(bg, "ch", "a@x.org")
	want := store.Send{After: 3, UpTo: 8, Period: epoch.Add(time.Hour)}
	if err != nil || sub.Pending == nil || sub.Pending.After != want.After || sub.Pending.UpTo != want.UpTo ||
		!sub.Pending.Period.Equal(want.Period) || sub.Owner != "one" || !sub.Until.Equal(epoch.Add(time.Minute)) {
		t.Errorf("after reopen %+v, %v", sub, err)
	}
	if got, _ := s2.MailSecret(bg, bytes.Repeat([]byte{9}, 32)); !bytes.Equal(got, secret) {
		t.Errorf("the secret changed on reopen")
	}
}

func sameSend(got *store.Send, want store.Send) bool {
	return got != nil && got.After == want.After && got.UpTo == want.UpTo && got.Period.Equal(want.Period)
}

// testListsImport copies every list of one store into another, as
// aggregator migrate does: ListChannels, Subscribers, ImportSubscriber
// and MailSecret give back every record as it was.
func testListsImport(t *testing.T, b Backend) {
	src := open(t, b, Options{Now: fixed})
	confirmSub(t, src, "b.chan", "a@x.org", 3)
	addSub(t, src, "b.chan", "p@x.org")
	confirmSub(t, src, "a-chan", "z@x.org", 1)
	c := store.SendClaim{Channel: "a-chan", Address: "z@x.org", Owner: "o", Now: epoch, Until: epoch.Add(time.Minute), UpTo: 9, Period: epoch.Add(time.Hour)}
	if _, ok, err := src.ClaimSend(bg, c); !ok || err != nil {
		t.Fatal(ok, err)
	}
	chans, err := src.ListChannels(bg)
	if err != nil || !slices.Equal(chans, []string{"a-chan", "b.chan"}) {
		t.Fatalf("ListChannels = %v, %v", chans, err)
	}
	dst := open(t, b, Options{Now: fixed})
	var want []store.Subscriber
	for _, ch := range chans {
		subs, err := src.Subscribers(bg, ch, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range subs {
			if err := dst.ImportSubscriber(bg, s); err != nil {
				t.Fatal(err)
			}
			want = append(want, s)
		}
	}
	for _, w := range want {
		wp := w.Pending
		w.Pending = nil
		got, err := dst.Subscriber(bg, w.Channel, w.Address)
		gp := got.Pending
		got.Pending = nil
		if err != nil || fmt.Sprint(got) != fmt.Sprint(w) || (gp == nil) != (wp == nil) || (gp != nil && !sameSend(gp, *wp)) {
			t.Errorf("imported\n got %+v, %v\nwant %+v", got, err, w)
		}
	}
	bad := want[0]
	bad.State = "asleep"
	wantCode(t, "ImportSubscriber(bad state)", dst.ImportSubscriber(bg, bad), feed.EINVALID)
	bad = want[0]
	bad.Address = "a@x.org\r\nBcc: b@x.org"
	wantCode(t, "ImportSubscriber(CRLF)", dst.ImportSubscriber(bg, bad), feed.EINVALID)
	if none, err := open(t, b, Options{Now: fixed}).ListChannels(bg); err != nil || len(none) != 0 {
		t.Errorf("ListChannels of an empty store = %v, %v", none, err)
	}
}
