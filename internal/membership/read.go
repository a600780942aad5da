package membership

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

// Cursor is a position in a channel's newest-first order: just after (or
// before) the member it names. It stays valid when that member leaves.
type Cursor struct {
	Pin  int // the member's pin, -1 for none
	Sort time.Time
	Seq  uint64
}

// CursorOf is the position of m.
func cursorOf(m store.Member) Cursor { return Cursor{Pin: m.Pin, Sort: m.Sort, Seq: m.Seq} }

func (c Cursor) member() *store.Member {
	return &store.Member{Pin: c.Pin, Sort: c.Sort, Seq: c.Seq}
}

// String writes c for a URL: "p<pin>-<seq>" or "t<unix nanos>-<seq>".
func (c Cursor) String() string {
	if c.Pin >= 0 {
		return "p" + strconv.Itoa(c.Pin) + "-" + strconv.FormatUint(c.Seq, 10)
	}
	return "t" + strconv.FormatInt(c.Sort.UnixNano(), 10) + "-" + strconv.FormatUint(c.Seq, 10)
}

// ParseCursor reads what String wrote; ok is false for anything else.
func ParseCursor(s string) (Cursor, bool) {
	if len(s) < 4 {
		return Cursor{}, false
	}
	i := strings.LastIndexByte(s, '-')
	if i <= 1 {
		return Cursor{}, false
	}
	seq, err := strconv.ParseUint(s[i+1:], 10, 64)
	if err != nil || seq == 0 {
		return Cursor{}, false
	}
	n, err := strconv.ParseInt(s[1:i], 10, 64)
	if err != nil {
		return Cursor{}, false
	}
	switch s[0] {
	case 'p':
		if n < 0 || n > 0xFFFF {
			return Cursor{}, false
		}
		return Cursor{Pin: int(n), Seq: seq}, true
	case 't':
		return Cursor{Pin: -1, Sort: time.Unix(0, n).UTC(), Seq: seq}, true
	}
	return Cursor{}, false
}

// Page is a run of a channel's members in its newest-first order.
type Page struct {
	Items []feed.Item
	// Pinned says, for each of Items, whether a pin put it there (pages
	// mark it).
	Pinned []bool
	// First and Last are the positions of the first and last item.
	First, Last Cursor
	// More reports whether another member follows Last (Older) or
	// precedes First (Newer).
	More bool
	// Changed is the latest time, known from data, at which the members
	// listed here may have changed: a member entered or left the index,
	// age took one out, or the channel's definition changed; the items'
	// own Updated are not included.
	Changed time.Time
	// Expires is the earliest time age takes one of Items out; zero for
	// never. A copy of the page is good until then.
	Expires time.Time
}

// maxScan bounds the members one read looks at beyond those it returns:
// members that age or the current rules drop are skipped, and a read must
// not walk a whole index to fill a page.
const maxScan = 2000

// Newest returns the channel's first n members: what its subscription
// documents publish (n is the channel's limit).
func (ix *Index) Newest(ctx context.Context, channelID string, n int) (Page, error) {
	return ix.Older(ctx, channelID, nil, n)
}

// Older returns up to n members that come after the cursor (nil: from the
// first) in the channel's newest-first order. It reads about n members,
// wherever the cursor is.
func (ix *Index) Older(ctx context.Context, channelID string, after *Cursor, n int) (Page, error) {
	return ix.walk(ctx, channelID, after, 0, n, false)
}

// Skip returns up to n members after the first skip members of the
// channel's newest-first order, for a page asked for by number without a
// cursor. It steps over skip index entries (keys, not stories), so unlike
// Older its cost grows with skip; members the current rules or age drop
// are counted in skip.
func (ix *Index) Skip(ctx context.Context, channelID string, skip, n int) (Page, error) {
	return ix.walk(ctx, channelID, nil, skip, n, false)
}

// Newer returns up to n members that come just before the cursor, in the
// channel's newest-first order: the page before the one the cursor starts.
func (ix *Index) Newer(ctx context.Context, channelID string, before Cursor, n int) (Page, error) {
	return ix.walk(ctx, channelID, &before, 0, n, true)
}

func (ix *Index) walk(ctx context.Context, channelID string, from *Cursor, skip, n int, reverse bool) (Page, error) {
	v, err := ix.view(channelID)
	if err != nil {
		return Page{}, err
	}
	st, _, err := ix.st.IndexState(ctx, v.index)
	if err != nil {
		return Page{}, err
	}
	now := ix.opts.Now()
	p := Page{Changed: latest(now, st.Changed, v.pending)}
	var after *store.Member
	if from != nil {
		after = from.member()
	}
	var ms []store.Member
	want, scanned := n+1, 0 // one more than asked: is there another?
	for len(p.Items) < want && scanned < n+maxScan {
		ask := want - len(p.Items)
		batch, items, err := ix.st.Newest(ctx, v.index, after, skip, ask, reverse)
		skip = 0
		if err != nil {
			return Page{}, fmt.Errorf("channel %s: %w", channelID, err)
		}
		for i, m := range batch {
			scanned++
			ok, gone := v.live(m, items[i], now)
			if !ok {
				p.Changed = latest(now, p.Changed, gone)
				continue
			}
			p.Items, ms = append(p.Items, items[i]), append(ms, m)
			p.Expires = earliest(p.Expires, m.Until)
		}
		if len(batch) < ask {
			break // the index has no more
		}
		after = &batch[len(batch)-1]
	}
	if len(p.Items) > n {
		p.Items, ms, p.More = p.Items[:n], ms[:n], true
	}
	if reverse { // walked toward the first: put them back in order
		for i, j := 0, len(p.Items)-1; i < j; i, j = i+1, j-1 {
			p.Items[i], p.Items[j] = p.Items[j], p.Items[i]
			ms[i], ms[j] = ms[j], ms[i]
		}
	}
	if len(ms) > 0 {
		p.Pinned = make([]bool, len(ms))
		for i, m := range ms {
			p.Pinned[i] = m.Pin >= 0
		}
	}
	if len(ms) > 0 {
		p.First, p.Last = cursorOf(ms[0]), cursorOf(ms[len(ms)-1])
	}
	return p, nil
}

// ArchivePage is one archive page of a channel.
type ArchivePage struct {
	Number, Pages int
	// Items are the page's members in first-stored order, oldest first.
	Items []feed.Item
	// Changed is when the page's members last changed (see Page.Changed).
	Changed time.Time
	// Expires is as for Page.
	Expires time.Time
}

// Pages returns the number of the channel's archive pages; the last is
// open (it grows as members arrive), the others are full or were.
func (ix *Index) Pages(ctx context.Context, channelID string) (int, error) {
	v, err := ix.view(channelID)
	if err != nil {
		return 0, err
	}
	st, _, err := ix.st.IndexState(ctx, v.index)
	if err != nil {
		return 0, err
	}
	return st.Pages, nil
}

// Archive returns archive page n of the channel: the members whose Seq
// falls in the page's bounds. Bounds never move, so a member that leaves
// leaves one page smaller and no other changes. It reads the page alone.
// It returns a feed.ENOTFOUND error for a page the channel does not have.
func (ix *Index) Archive(ctx context.Context, channelID string, n int) (ArchivePage, error) {
	v, err := ix.view(channelID)
	if err != nil {
		return ArchivePage{}, err
	}
	st, _, err := ix.st.IndexState(ctx, v.index)
	if err != nil {
		return ArchivePage{}, err
	}
	pi, err := ix.st.IndexPage(ctx, v.index, n)
	if err != nil {
		return ArchivePage{}, err
	}
	now := ix.opts.Now()
	ap := ArchivePage{Number: n, Pages: st.Pages, Changed: latest(now, pi.Changed, v.pending)}
	ms, items, err := ix.st.BySeq(ctx, v.index, pi.First, pi.Next, pi.Count+maxScan)
	if err != nil {
		return ArchivePage{}, fmt.Errorf("channel %s: %w", channelID, err)
	}
	for i, m := range ms {
		ok, gone := v.live(m, items[i], now)
		if !ok {
			ap.Changed = latest(now, ap.Changed, gone)
			continue
		}
		ap.Items = append(ap.Items, items[i])
		ap.Expires = earliest(ap.Expires, m.Until)
	}
	return ap, nil
}

// ChannelsOf returns the ids of the channels that show the story at now,
// in config order: those whose index lists it, unaged, and whose current
// rules keep it. A story in none is published nowhere.
func (ix *Index) ChannelsOf(ctx context.Context, it feed.Item) ([]string, error) {
	keys, err := ix.st.MemberOf(ctx, it.SourceID, it.Key)
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	now := ix.opts.Now()
	in := map[string]store.Member{}
	for _, k := range keys {
		ms, err := ix.st.LookupMembers(ctx, k, []uint64{it.Seq})
		if err != nil {
			return nil, err
		}
		if len(ms) == 1 {
			in[k] = ms[0]
		}
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var out []string
	shown := map[[2]string]bool{} // by serving index and definition: channels defined alike judge alike
	for _, id := range ix.order {
		c := ix.chans[id]
		m, ok := in[c.serving]
		if !ok {
			continue
		}
		k := [2]string{c.serving, c.def.key}
		live, known := shown[k]
		if !known {
			v := view{index: c.serving, cur: c.def.cur, pending: c.pending}
			live, _ = v.live(m, it, now)
			shown[k] = live
		}
		if live {
			out = append(out, id)
		}
	}
	return out, nil
}

// Withdrawn reports whether staff withdrew the story: a hide (a
// channel's, or a carrier's) names it in a channel that selects one of its
// carriers. Outputs that show it nowhere may then say it is gone, not that
// it never was. It judges the story once per channel definition.
func (ix *Index) Withdrawn(it feed.Item) bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	for _, d := range ix.defs {
		if d.cur.Judge(it).Hidden {
			return true
		}
	}
	return false
}

// LabelsOf returns the labels of the channels that show the story (see
// ChannelsOf and Label), each once, sorted: what the search index files it
// under. Channels defined alike share a label.
func (ix *Index) LabelsOf(ctx context.Context, it feed.Item) ([]string, error) {
	ids, err := ix.ChannelsOf(ctx, it)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	ix.mu.RLock()
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if c := ix.chans[id]; c != nil {
			out = append(out, c.label)
		}
	}
	ix.mu.RUnlock()
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Contains reports whether channel channelID shows the story at now.
func (ix *Index) Contains(ctx context.Context, channelID string, it feed.Item) (bool, error) {
	ids, err := ix.ChannelsOf(ctx, it)
	if err != nil {
		return false, err
	}
	for _, id := range ids {
		if id == channelID {
			return true, nil
		}
	}
	return false, nil
}

// earliest returns the earlier of a and b, the zero time standing for
// never.
func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}
