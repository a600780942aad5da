package story

import (
	"cmp"
	"slices"
	"time"

	"github.com/kpolicy/aggregator/internal/canon"
	"github.com/kpolicy/aggregator/internal/feed"
)

// Poll is one successful poll of one source, as the rules see it. It is
// for one goroutine: Decide and Warm keep what they derive in it.
type Poll struct {
	// Source is the polled source's id.
	Source string
	// Items are the poll's items as delivered, in feed order.
	Items []feed.Item
	// TrustLinks says whether the source's canonical links identify its
	// items ([feed.LinksIdentify] of its identity policy).
	TrustLinks bool
	// TitleWindow is how far apart two sources' items with the same folded
	// title may be and still be one story; 0 turns the title rule off.
	TitleWindow time.Duration
	// Now is the time of the poll, as stored ([Time]).
	Now time.Time

	info *pollInfo // built on the first item that is not found by key

	// folded and linkKeys keep what canon.Title and feed.LinkKey made of
	// the poll's titles and links: Decide needs each twice or more, and
	// Warm makes them before the store's write transaction. Each holds at
	// most as many entries as the poll has items (a Poll without Items, as
	// a store's rebuild of its indexes uses, keeps none).
	folded, linkKeys map[string]string
}

// Warm computes what Decide derives from it (an item of the poll, as AsNew
// makes it) and from the poll as a whole without the store: the folded
// title, the canonical link key, the poll's keys. A store calls it, before
// its write transaction, for the items it is about to decide as new, which
// Decide then finds done: the transaction holds the store's writer, which
// every other poll waits for (bench/RESULTS.md, issue 17, round 13).
func (p *Poll) Warm(it feed.Item) {
	p.pollInfo()
	p.title(it.Title)
	if it.Link != "" {
		p.linkKey(it.Link)
	}
}

// title is canon.Title(s), computed once a poll.
func (p *Poll) title(s string) string { return once(&p.folded, len(p.Items), s, canon.Title) }

// linkKey is feed.LinkKey(link), computed once a poll.
func (p *Poll) linkKey(link string) string {
	return once(&p.linkKeys, len(p.Items), link, feed.LinkKey)
}

// once returns f(s), kept in *m, which holds at most max entries.
func once(m *map[string]string, max int, s string, f func(string) string) string {
	if v, ok := (*m)[s]; ok {
		return v
	}
	v := f(s)
	if len(*m) < max {
		if *m == nil {
			*m = make(map[string]string, max)
		}
		(*m)[s] = v
	}
	return v
}

// pollInfo is what the poll as a whole says about its items.
type pollInfo struct {
	keys      map[string]bool // every key in the poll
	ambiguous map[string]bool // link keys shared by items with different keys
}

func (p *Poll) pollInfo() *pollInfo {
	if p.info != nil {
		return p.info
	}
	i := &pollInfo{keys: make(map[string]bool, len(p.Items)), ambiguous: map[string]bool{}}
	first := make(map[string]string, len(p.Items))
	for _, it := range p.Items {
		i.keys[it.Key] = true
		if it.Link == "" {
			continue
		}
		lk := p.linkKey(it.Link)
		if k, ok := first[lk]; ok && k != it.Key {
			i.ambiguous[lk] = true
		} else {
			first[lk] = it.Key
		}
	}
	p.info = i
	return i
}

// Kind is what an item of a poll is to the store.
type Kind int

const (
	// Skip: nothing of the item is written (it is unchanged, pruned, or a
	// copy already merged); it counts as unchanged. An alias may still be
	// recorded (Decision.Alias).
	Skip Kind = iota
	// New: the item is a story of its own, stored under its source and key.
	New
	// Update: the item replaces the stored Decision.Stored.
	Update
	// Merge: the item is another source's copy of the story Decision.Item,
	// which gains it as its last origin.
	Merge
)

func (k Kind) String() string {
	return [...]string{"skip", "new", "update", "merge"}[k]
}

// Decision is what the store must write for one item of a poll, all in the
// poll's write transaction.
type Decision struct {
	Kind Kind
	// Item is what to write under Item.SourceID/Item.Key. For New, the item
	// with its key, dates and IDShared decided; the store gives it the
	// next Seq and Rev. For Update, the new version with the stored Seq
	// and Origins kept; the store gives it the next Rev, dropping its
	// place under Stored.Rev. For Merge, the story with the copy appended
	// to its Origins; the store gives it the next Rev the same way.
	Item feed.Item
	// Stored is the stored version Item replaces (Update and Merge): an
	// index entry of Stored (its sort time) that Item does not share goes.
	Stored feed.Item
	// Alias, when set, is recorded for the poll's source under AliasKey.
	// For Merge, AliasKey is also the copy's key: the store files it with
	// the poll's source at Item's sort time (so a channel that selects
	// only that source shows the story), and counts one more item of the
	// source merged into another's story.
	Alias    *Alias
	AliasKey string
	// Claim says Item claims Item.ID in the id claims.
	Claim bool
	// Index, for New and Merge, is what the link and title indexes gain,
	// naming Item's story at Item's sort time.
	Index Entries
}

// Entries are index entries naming one story.
type Entries struct {
	// Link is a canonical link key for the link index; "" for none. A
	// link key that names a stored story is never given to another
	// (Decide leaves it out).
	Link string
	// Title is a folded title ([canon.Title]) for the title index; "" for
	// none.
	Title string
}

// Decide decides what in, an item of the poll, is to the store. Decide the
// poll's items one at a time, in order, and execute each decision before
// deciding the next: a later item's rules read what an earlier one wrote
// (an item key twice in one poll is stored once, the later occurrence
// compared with the earlier).
//
//   - An item whose key has a tombstone is skipped.
//   - A stored item (by key, or by an alias of the source's own) whose
//     content is the same ([feed.SameContent]) is skipped; one whose content
//     changed is an Update keeping the stored FirstSeen, Published, Dated,
//     Origins and Seq; Updated becomes the item's if that is after the
//     stored one, else now. Found under an older key, it keeps the stored
//     ID and IDIsPermaLink.
//   - A key that is another source's alias is skipped: the first origin's
//     text stands.
//   - A new key gets FirstSeen = now; undated, Published = FirstSeen;
//     Updated is raised to Published. Then, when the source's links are
//     trusted and no other item of the poll has the same canonical link,
//     the story the link index names decides: the source's own item under
//     a new key (same folded title, old key absent from the poll) is
//     rekeyed (an alias, then as a stored item above); the source's copy
//     of another's story under a new key (its old key absent from the poll)
//     is an alias, skipped; another story is a Merge by link. Else the
//     title index: the nearest other source's story with the same folded
//     title within the window that the source does not already carry is a
//     Merge by title. Else it is New.
//
// IDShared is decided when an item is first stored, or stored with another
// ID, and kept otherwise: false when no other stored item carries the ID
// (the item then claims it), true when one does. Whatever IDShared in
// carries is ignored.
func (p *Poll) Decide(in feed.Item, l Lookup) (Decision, error) {
	if dead, err := l.Tombstone(p.Source, in.Key); err != nil || dead { // pruned
		return Decision{}, err
	}
	it := Storable(in)
	it.SourceID = p.Source
	it.Origins = nil
	key := it.Key
	old, found, err := l.Item(p.Source, key)
	if err != nil {
		return Decision{}, err
	}
	var d Decision
	if !found {
		// Known under this key as another item (an alias)?
		a, ok, err := l.Alias(p.Source, key)
		if err != nil {
			return Decision{}, err
		}
		switch {
		case ok && a.SourceID != p.Source:
			return Decision{}, nil // a copy: the first origin's text stands
		case ok:
			if old, found, err = l.Item(p.Source, a.Key); err != nil {
				return Decision{}, err
			} else if found {
				it.Key = a.Key
			}
		}
	}
	if !found {
		it = p.AsNew(in)
		m, err := p.findStory(it, l)
		if err != nil {
			return Decision{}, err
		}
		switch {
		case m == nil: // a story of its own
			if d.Claim, err = claim(&it, l); err != nil {
				return Decision{}, err
			}
			if d.Index, err = p.entries(it, l); err != nil {
				return Decision{}, err
			}
			d.Kind, d.Item = New, it
			return d, nil
		case m.rule != RuleRekey:
			return p.merge(it, m, l)
		case m.story.SourceID != p.Source: // the source's copy under a new key
			return Decision{AliasKey: it.Key, Alias: &Alias{SourceID: m.story.SourceID, Key: m.story.Key, Rule: RuleRekey, Seen: p.Now}}, nil
		}
		// The source's own item under a new key.
		d.AliasKey, d.Alias = it.Key, &Alias{SourceID: p.Source, Key: m.story.Key, Rule: RuleRekey, Seen: p.Now}
		it.Key, old = m.story.Key, m.story
	}
	if old.Key != key {
		// Found under an older key: it stays what readers know.
		it.ID, it.IDIsPermaLink = old.ID, old.IDIsPermaLink
	}
	if feed.SameContent(old, it) {
		return d, nil
	}
	it.FirstSeen, it.Published, it.Dated = old.FirstSeen, old.Published, old.Dated
	it.Origins = old.Origins
	it.Seq = old.Seq
	if it.ID == old.ID {
		it.IDShared = old.IDShared // decided once: the published id stays
	} else if d.Claim, err = claim(&it, l); err != nil {
		return Decision{}, err
	}
	if !it.Updated.After(old.Updated) {
		it.Updated = p.Now
	}
	d.Kind, d.Item, d.Stored = Update, it, old
	return d, nil
}

// AsNew is in as Decide makes it when its key is new to the store, before
// Decide looks for its story: the item a New decision stores, but for
// IDShared (which Decide decides) and Seq and Rev (which the store gives).
// A store may encode it before its write transaction (record.Prepare).
func (p *Poll) AsNew(in feed.Item) feed.Item {
	it := Storable(in)
	it.SourceID = p.Source
	it.Origins = nil
	it.FirstSeen = p.Now
	if !it.Dated {
		it.Published = it.FirstSeen
	}
	if it.Updated.IsZero() || it.Updated.Before(it.Published) {
		it.Updated = it.Published
	}
	return it
}

// merge decides it, a copy of m.story found by m.rule: the story gains an
// origin, the copy's key an alias, and the indexes its link and title,
// naming the story. A source that lists two copies of one story is an
// origin twice.
func (p *Poll) merge(it feed.Item, m *match, l Lookup) (Decision, error) {
	story := m.story
	story.Origins = append(slices.Clip(story.Origins), feed.Origin{
		SourceID: p.Source, Key: it.Key, Link: it.Link, Rule: m.rule, Seen: p.Now,
	})
	// The copy's link and title name the story, at the story's time.
	ix, err := p.entries(it, l)
	if err != nil {
		return Decision{}, err
	}
	return Decision{
		Kind: Merge, Item: story, Stored: m.story,
		AliasKey: it.Key, Alias: &Alias{SourceID: story.SourceID, Key: story.Key, Rule: m.rule, Seen: p.Now},
		Index: ix,
	}, nil
}

// claim decides it.IDShared for it, about to be written: false when no
// other stored item carries it.ID, which it then claims (true is
// returned); true when one does. An id too long to claim claims nothing
// and is not shared.
func claim(it *feed.Item, l Lookup) (bool, error) {
	it.IDShared = false
	if it.ID == "" || len(it.ID) > MaxClaimedID {
		return false, nil
	}
	own := Ref{it.SourceID, it.Key}
	r, ok, err := l.IDOwner(it.ID)
	if err != nil || !ok {
		return err == nil, err
	}
	if r == own {
		return false, nil
	}
	other, found, err := l.Item(r.SourceID, r.Key)
	if err != nil {
		return false, err
	}
	if found && other.ID == it.ID {
		it.IDShared = true
		return false, nil
	}
	// The item named is gone, or carries another id now: the id is free.
	return true, nil
}

// Claim decides it.IDShared as Decide does for an item first stored, and
// reports whether it claims its id: for a store that makes, in first-stored
// order, the claims its older items would have made.
func Claim(it *feed.Item, l Lookup) (bool, error) { return claim(it, l) }

// match is what findStory makes of a new key.
type match struct {
	story feed.Item // the stored story
	rule  string    // RuleLink or RuleTitle for a merge; RuleRekey for the source's own item or copy
}

// findStory looks for the story a poll item with an unknown key belongs
// to. It returns nil when the item is a story of its own. it has the
// dates it would be stored with.
func (p *Poll) findStory(it feed.Item, l Lookup) (*match, error) {
	info := p.pollInfo()
	if p.TrustLinks && it.Link != "" {
		lk := p.linkKey(it.Link)
		if !info.ambiguous[lk] {
			r, ok, err := l.LinkOwner(lk)
			if err != nil {
				return nil, err
			}
			if ok {
				story, found, err := l.Item(r.SourceID, r.Key)
				if err != nil {
					return nil, err
				}
				if found {
					return p.byLink(it, story), nil
				}
			}
		}
	}
	return p.byTitle(it, l)
}

// byLink decides what a new key whose canonical link names story is.
func (p *Poll) byLink(it, story feed.Item) *match {
	keys := p.pollInfo().keys
	if story.SourceID == p.Source {
		// The source's own item under a new key: a GUID scheme change,
		// as long as the old key left the feed and the title is the same.
		if !keys[story.Key] && sameTitle(story.Title, it.Title) {
			return &match{story: story, rule: RuleRekey}
		}
		return nil
	}
	if o, ok := originOf(story, p.Source); ok && !keys[o.Key] {
		// The source's copy under a new key.
		return &match{story: story, rule: RuleRekey}
	}
	// Another copy; perhaps the source's second one (a category feed that
	// lists the agency's and a paper's version of one story).
	return &match{story: story, rule: RuleLink}
}

// byTitle looks for another source's story with it's folded title whose
// sort time is within the window of it's, the nearest in time first.
func (p *Poll) byTitle(it feed.Item, l Lookup) (*match, error) {
	folded := p.title(it.Title)
	if p.TitleWindow <= 0 || folded == "" {
		return nil, nil
	}
	t := it.Sort()
	entries, err := l.Titles(folded, t.Add(p.TitleWindow), t.Add(-p.TitleWindow), MaxTitleScan)
	if err != nil {
		return nil, err
	}
	type cand struct {
		r    Ref
		dist time.Duration
	}
	var cands []cand
	for _, e := range entries {
		if e.Story.SourceID == p.Source {
			continue // the title rule is for other sources' stories
		}
		cands = append(cands, cand{e.Story, e.Sort.Sub(t).Abs()})
	}
	slices.SortStableFunc(cands, func(a, b cand) int { return cmp.Compare(a.dist, b.dist) })
	for _, c := range cands {
		story, ok, err := l.Item(c.r.SourceID, c.r.Key)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if _, carried := originOf(story, p.Source); carried {
			continue // the source has its own item with this title: a different story
		}
		return &match{story: story, rule: RuleTitle}, nil
	}
	return nil, nil
}

// entries are the index entries of it, about to be stored as (or merged
// into) the story it.SourceID/it.Key: its canonical link, when the source's
// links are trusted, no other item of the poll shares it and no stored
// story has it; and its folded title.
func (p *Poll) entries(it feed.Item, l Lookup) (Entries, error) {
	var e Entries
	if it.Link != "" && p.TrustLinks {
		lk := p.linkKey(it.Link)
		free, err := linkFree(lk, l)
		if err != nil {
			return Entries{}, err
		}
		if free && len(lk) <= MaxLinkKey && !p.pollInfo().ambiguous[lk] {
			e.Link = lk
		}
	}
	e.Title = p.title(it.Title)
	return e, nil
}

// Entries returns the index entries of the stored item it, for a store
// that builds its link and title indexes from the items it holds (the
// first item of each canonical link winning), as Decide would have made
// them for the item: with the poll's other items unknown.
func (p *Poll) Entries(it feed.Item, l Lookup) (Entries, error) { return p.entries(it, l) }

// linkFree reports whether the link key lk may be given to a story: it
// names none, or one that is gone.
func linkFree(lk string, l Lookup) (bool, error) {
	r, ok, err := l.LinkOwner(lk)
	if err != nil || !ok {
		return err == nil, err
	}
	_, found, err := l.Item(r.SourceID, r.Key)
	return !found, err
}

// originOf returns the origin of src on story, if src carried it.
func originOf(story feed.Item, src string) (feed.Origin, bool) {
	for _, o := range story.Origins {
		if o.SourceID == src {
			return o, true
		}
	}
	return feed.Origin{}, false
}

// sameTitle reports whether two titles of one source's item name the same
// story: equal once folded, or equal as written when too short to fold.
func sameTitle(a, b string) bool {
	fa, fb := canon.Title(a), canon.Title(b)
	if fa == "" || fb == "" {
		return a == b
	}
	return fa == fb
}
