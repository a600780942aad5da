// Package store is the contract of the aggregator's storage: the Store
// interface every backend implements, the types it speaks and the errors
// it returns. Backends live in packages named by their technology
// (internal/store/bolt, the embedded bbolt file); internal/store/storetest
// is the conformance suite every backend runs, and a backend is done when
// it passes. Consumers do not use Store itself: each declares the small
// interface it needs, and only the command wires a backend to them.
//
// The package holds no data, imports no backend and decides nothing about
// stories: the rules that say whether an item is new, an edit, another
// source's copy or the source's own item under a new key are the story
// package's, and a backend executes the decisions story.Poll.Decide makes
// (see Polls.SavePoll). Membership is decided by the membership package;
// the store keeps its indexes.
//
// # Calls and errors
//
// Every method takes a context first (Close excepted): a backend may stop
// at the context's end, and one whose context is done before the call
// begins returns an error wrapping ctx.Err() and does nothing. A write
// that fails stores nothing of what it was given: each method that writes
// is one transaction unless its doc says it works in batches.
//
// Errors carry a code ([feed.ErrorCode]) where a caller branches on them:
//
//   - feed.ENOTFOUND: the thing asked for does not exist (an item, a saved
//     state, a membership index, an archive page). Only then: a backend
//     that cannot read returns another error, so that a caller never takes
//     a failing disk or a lost connection for "not there".
//   - feed.EINVALID: the input breaks the contract (an empty or over-long
//     id or key, an item of another source); nothing was written.
//
// and the sentinels below, wrapped, for the conditions an operator acts on:
// ErrFull, ErrReadOnly, and from opening a backend ErrLocked, ErrCorrupt,
// ErrSchema. Anything else is a failing backend.
//
// # Times
//
// A store keeps every time as story.Time makes it (years 1 to 9999,
// nanoseconds, no monotonic reading) and returns exactly what it kept, in
// UTC or not: callers compare times with Equal.
//
// # Optional capabilities
//
// What a backend may lack is a separate interface, asked for with a type
// assertion: a Store that is a Backuper can copy itself while it runs.
// A caller that needs a missing capability fails with an error wrapping
// errors.ErrUnsupported that says what to use instead. Offline
// maintenance (compacting a file) is not a method at all: it needs the
// store closed, so the backend's package offers it as a function on the
// location, and the command picks it by the location's form.
//
// # Growing the contract
//
// The contract is a union of concerns, each its own interface. A new
// concern (leases on polling, a change feed between instances, the
// mailing lists' subscribers and send log) is a new interface embedded in
// Store, with its cases in storetest. An existing concern changes only
// when what it promised cannot hold for several instances (the subscriber
// statistics: one row per channel and day became one part per instance,
// merged on read), and then in every backend and its cases at once. A
// backend for which a concern is trivial (one process holds a bbolt file,
// so every lease is its own) implements it trivially, and passes the same
// cases.
package store

import (
	"context"
	"io"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// Store is everything a backend keeps. Its methods are safe for concurrent
// use.
type Store interface {
	Polls
	Sources
	Memberships
	WriteOrder
	Subscriptions
	SubscriberStats
	Maintenance
	Leases
	Lists
	Changes
	Copies
	// Close releases the store (its file lock, its connections). Calling it
	// again returns nil; every other method fails after it.
	Close() error
}

// Polls are the items the sources deliver, stored as stories.
type Polls interface {
	// SavePoll stores the items of one successful parse of sourceID and
	// the source's new state, in one transaction: all of it or none.
	//
	// Each item is decided by story.Poll.Decide, with a Poll of sourceID,
	// items, feed.LinksIdentify(state.Identity), the backend's title
	// window and now (story.Time of the backend's clock), reading through
	// a story.Lookup that sees the transaction's own writes; each decision
	// is executed before the next item is decided, as story.Decision
	// documents: New gets the next Seq (one counter over all sources,
	// never reused) and the next Rev; Update and Merge the next Rev. The
	// counts are one per item: New, Updated, Merged, and Unchanged for
	// every Skip.
	//
	// state.SourceID is set to sourceID and state.Items to the number of
	// items the source delivered (SourceItemCount after the poll); the
	// rest of state is stored as given, Parsing included (the poller
	// clears it). CheckPoll's feed.EINVALID errors are returned before
	// anything is read.
	SavePoll(ctx context.Context, sourceID string, items []feed.Item, state feed.SourceState) (feed.PollCounts, error)
	// Item returns the stored item of sourceID under key, as it was
	// written (Seq, Rev, Origins, IDShared set by the store), or a
	// feed.ENOTFOUND error. A key that is only an alias is not found.
	Item(ctx context.Context, sourceID, key string) (feed.Item, error)
	// ItemsAfter returns up to limit stories of the given sources, newest
	// first by [feed.Item.Sort], then by source id, then key, starting
	// just after the position of after (nil: from the newest). after need
	// not be stored any more: only its SourceID, Key and sort time (as
	// story.Time makes it) are used. Unknown and repeated source ids are
	// ignored; limit <= 0 returns none.
	//
	// A story carried by several sources is returned once, attributed to
	// the source that delivered it first, with every other carrier in
	// Origins, at the first position any of the given sources lists it:
	// a source's merged copy has a position at its story's sort time, so
	// a channel that selects only a later source still shows the story.
	// The cost is about limit·log(len(sourceIDs)) reads however large the
	// store is.
	ItemsAfter(ctx context.Context, sourceIDs []string, after *feed.Item, limit int) ([]feed.Item, error)
	// Locate returns the stories q names, in this order: q as "SOURCE/KEY"
	// (a source id, a slash, an item key, or an alias key of the source),
	// q as an upstream id of any source's item (stored under "id:"+q), and
	// q as an http(s) link, compared by [feed.LinkKey] with the link index.
	// A story matched several ways is listed once per matched copy. An
	// empty q is feed.EINVALID; no match is feed.ENOTFOUND.
	Locate(ctx context.Context, q string) ([]Found, error)
	// Count returns the number of stories stored over all sources: a
	// story carried by several sources counts once.
	Count(ctx context.Context) (int, error)
	// SourceItemCount returns the number of items sourceID delivered: its
	// own stories plus its copies merged into other sources' stories; 0
	// for a source never saved.
	SourceItemCount(ctx context.Context, sourceID string) (int, error)
}

// Sources are the sources' saved poll states.
type Sources interface {
	// SaveState stores state alone, as after a 304 Not Modified or a
	// failed poll. The store owns state.Items: it is set to
	// SourceItemCount, whatever the caller passed. An empty or over-long
	// SourceID is feed.EINVALID.
	SaveState(ctx context.Context, state feed.SourceState) error
	// SaveStateSoon is SaveState for a poll that changed nothing but the
	// schedule (a 304, a body identical to the last one): it may return
	// before the state is durable, so that a refresh of unchanged sources
	// does not wait for a commit each. State and States read it at once;
	// a SaveState or SavePoll of the source made after it replaces it,
	// MarkParsing marks it; Close makes it durable. A crash before then may
	// lose it, and only it: the source reads as before the call, so it is
	// polled again sooner, with the validators it had (a 304's new ETag
	// lost costs one full reply). Bad input is SaveState's error; a later
	// failure to write it is lost with it.
	SaveStateSoon(ctx context.Context, state feed.SourceState) error
	// MarkParsing records on sourceID's saved state that a parse of a new
	// body began at at (feed.SourceState.Parsing), creating the state when
	// there is none; the rest of the state is kept. It is called once per
	// changed body, before parsing, so that a crash inside the parser is
	// found at the next start: it must be cheap (bbolt shares one commit
	// among the marks made at once).
	MarkParsing(ctx context.Context, sourceID string, at time.Time) error
	// State returns the saved state of sourceID, or a feed.ENOTFOUND error
	// when none was ever saved.
	State(ctx context.Context, sourceID string) (feed.SourceState, error)
	// States returns every saved state, ordered by source id (bytewise).
	States(ctx context.Context) ([]feed.SourceState, error)
}

// Memberships are the membership indexes: what each channel contains and
// in what order, as the membership package decided it. The store never
// decides membership; it keeps what it is given and serves it. An index is
// named by an opaque key of 1 to MaxIndexName bytes.
//
// Each index holds members (one per story, by Seq), ordered two ways: the
// newest-first order (pinned members first, by pin, then by sort time
// newest first; ties of either by Seq lowest first, which keeps a poll's
// items of one time in their feed's order) and the Seq order, cut into
// archive pages. A page is opened when a member arrives whose Seq is above
// every other's while the last page holds PageSize members, so pages never
// renumber: a member that leaves leaves its page smaller, and one that
// comes back goes back to its page. Page 1 also covers every Seq before the
// second page's first.
//
// A story's deletion (Prune) takes it out of every index that holds it in
// the same transaction.
type Memberships interface {
	// UpdateIndexes applies each update to its index, creating missing
	// indexes, in one transaction, and returns the indexes' states
	// afterwards. A guarded update (IndexUpdate.Guard) whose From is not
	// the index's Rev is skipped, and creates nothing. Within one update Delete is applied first, then Put (in
	// Seq order), then Windows. A member whose story is not stored (it
	// was deleted since the caller read it) is not added; a member with an
	// empty source id or key, a zero Seq or a Pin above 65535 is
	// feed.EINVALID, as is an index name of the wrong length.
	UpdateIndexes(ctx context.Context, updates map[string]IndexUpdate) (map[string]IndexState, error)
	// IndexState returns the state of index; ok is false when it does not
	// exist.
	IndexState(ctx context.Context, index string) (st IndexState, ok bool, err error)
	// Indexes returns the names of every index, in bytewise order.
	Indexes(ctx context.Context) ([]string, error)
	// DropIndex deletes index in transactions of a bounded number of
	// members, so that writers never wait long; with touch, every member's
	// story gets a new Rev (its channels changed). A missing index is not
	// an error.
	DropIndex(ctx context.Context, index string, touch bool) error
	// Window returns the Seqs a limited source holds in index, as last
	// written by an update's Windows; nil when none were. A missing index
	// wraps ErrNoIndex.
	Window(ctx context.Context, index, sourceID string) ([]uint64, error)
	// LookupMembers returns the members of index among seqs, in the order
	// of seqs; seqs that are not members are skipped. A missing index
	// wraps ErrNoIndex.
	LookupMembers(ctx context.Context, index string, seqs []uint64) ([]Member, error)
	// MemberOf returns the names of the indexes the story src/key is in.
	MemberOf(ctx context.Context, src, key string) ([]string, error)
	// MemberSeqs returns up to limit Seqs of the members of index, in
	// order, from from on (inclusive): no story is read. A missing index
	// wraps ErrNoIndex.
	MemberSeqs(ctx context.Context, index string, from uint64, limit int) ([]uint64, error)
	// Newest returns up to limit members of index in its newest-first
	// order, with their stories, starting after the member after (nil:
	// from the first) and skipping skip members first. A member whose
	// story is gone is left out. A pinned member's Sort is its story's
	// sort time. With reverse it walks toward the first member instead,
	// from just before after (nil: from the last), and returns them in
	// that order. A missing index wraps ErrNoIndex.
	Newest(ctx context.Context, index string, after *Member, skip, limit int, reverse bool) ([]Member, []feed.Item, error)
	// BySeq returns up to limit members of index whose Seq is at least
	// from and below to (0: no bound), in Seq order, with their stories
	// (Sort set from them). A member whose story is gone is left out. A
	// missing index wraps ErrNoIndex.
	BySeq(ctx context.Context, index string, from, to uint64, limit int) ([]Member, []feed.Item, error)
	// IndexPage returns archive page n of index, or a feed.ENOTFOUND error
	// for a page or an index it does not have.
	IndexPage(ctx context.Context, index string, n int) (PageInfo, error)
	// TouchSeqs gives the stories stored at these Seqs a new Rev each (see
	// IndexUpdate.Touch), in one transaction; Seqs whose story is gone are
	// skipped. It returns the first and last Rev it gave (zeros when none:
	// they are consecutive, the transaction being the only writer), and
	// among them those given to stories whose Rev had been above seen.
	TouchSeqs(ctx context.Context, seqs []uint64, seen uint64) (first, last uint64, unseen []uint64, err error)
	// ExpireMembers deletes from index the members whose Until is set and
	// not after now, in transactions of a bounded number of members, and
	// records as the index's and each touched page's Changed the latest
	// such Until (when they left). With touch, each gets a new Rev. It
	// returns how many it deleted; a missing index deletes none.
	ExpireMembers(ctx context.Context, index string, now time.Time, touch bool) (int, error)
}

// WriteOrder is the store's global write order (feed.Item.Rev): every
// write of an item (new, changed, merged into, touched) takes the next
// number, so that a follower that keeps the last number it processed
// finds everything written since, each item once, in its latest version.
// A deleted item is written once more as gone, under a new number, until
// TrimGone.
type WriteOrder interface {
	// ItemsSince returns up to limit items whose Rev is greater than rev,
	// in Rev order. A deleted item comes as gone: only SourceID, Key and
	// Rev set, Seq zero. limit <= 0 returns none.
	ItemsSince(ctx context.Context, rev uint64, limit int) ([]feed.Item, error)
	// LastRev returns the Rev of the latest write; 0 for an empty store.
	LastRev(ctx context.Context) (uint64, error)
	// TrimGone forgets up to a bounded number of gone entries whose Rev is
	// at most upTo (every follower has seen them) and returns how many.
	TrimGone(ctx context.Context, upTo uint64) (int, error)
	// IndexedRev returns the last Rev recorded with SetIndexedRev; 0 when
	// none was.
	IndexedRev(ctx context.Context) (uint64, error)
	// SetIndexedRev records rev as the last Rev the search index holds.
	SetIndexedRev(ctx context.Context, rev uint64) error
}

// Subscriptions are the WebSub hub's subscriptions.
type Subscriptions interface {
	// PutSubscription stores s, replacing any subscription of the same
	// callback to the same topic. An empty topic or callback, or one
	// holding a NUL byte, is feed.EINVALID. Lease is kept to the second.
	PutSubscription(ctx context.Context, s feed.Subscription) error
	// DeleteSubscription removes the subscription of callback to topic;
	// removing one that does not exist is not an error.
	DeleteSubscription(ctx context.Context, topic, callback string) error
	// Subscriptions returns the subscriptions to topic, or to every topic
	// when topic is "", expired ones included, ordered by topic then
	// callback (bytewise).
	Subscriptions(ctx context.Context, topic string) ([]feed.Subscription, error)
}

// SubscriberStats are the daily counts of the subscriber statistics, kept
// as parts: one per channel, day and counting instance (see
// SubscriberPart), so that instances sharing a store add up rather than
// overwrite each other. The backend stores and returns parts; the days
// are MergeSubscriberParts', the one merge rule, outside every backend.
//
// Rows: a channel's day has one part per process that counted it (each
// run of serve is an instance: a restart starts a new part, and the old
// one keeps what was flushed before it), until SettleSubscriberDays makes
// them one settled part without a sketch.
type SubscriberStats interface {
	// SaveSubscriberParts stores each part, replacing what was stored for
	// the same channel, day and instance, in one transaction. A part that
	// CheckSubscriberPart refuses is feed.EINVALID and nothing is written.
	// Of two parts with one channel, day and instance in parts, the last
	// stands.
	SaveSubscriberParts(ctx context.Context, parts []SubscriberPart) error
	// SubscriberParts returns the stored parts of the days from from to to
	// inclusive ("2006-01-02"; an empty bound is open), ordered by
	// channel, day, then instance (bytewise), each as it was stored (a
	// Fetchers map that was empty may come back nil).
	SubscriberParts(ctx context.Context, from, to string) ([]SubscriberPart, error)
	// SettleSubscriberDays replaces, in one transaction, every stored part
	// of each settled part's channel and day with it (its Instance must be
	// ""; else, or when CheckSubscriberPart refuses it, feed.EINVALID and
	// nothing is written). The caller merges the parts first, and settles
	// only days no instance writes any more.
	SettleSubscriberDays(ctx context.Context, settled []SubscriberPart) error
}

// Maintenance is retention and the store's health.
type Maintenance interface {
	// Prune deletes the items of sourceID that keep does not retain, as
	// story.Retain says: walking the source's positions in ItemsAfter's
	// order from the oldest (its copies merged into other sources'
	// stories included: deleting one of those deletes only the position),
	// beyond the newest keep.Items and sorted more than keep.Days days
	// before now. It works in transactions of at most PruneBatch
	// deletions, leaves a tombstone for each deleted key (so SavePoll
	// never stores it again), writes each deleted story to the write order
	// as gone, takes it out of every membership index, unrecords what
	// story.Forget says, keeps the source's item count and saved state in
	// step, and keeps the source's MaxTombstones newest tombstones. A
	// source with no items is not an error.
	Prune(ctx context.Context, sourceID string, keep feed.Retention, now time.Time) (PruneResult, error)
	// Tombstones returns how many pruned item keys of sourceID are
	// remembered.
	Tombstones(ctx context.Context, sourceID string) (int, error)
	// Size returns the bytes the store takes, as its backend counts them
	// (the file, the database).
	Size(ctx context.Context) (int64, error)
	// Ping checks that the store answers; it fails once it is closed.
	Ping(ctx context.Context) error
}

// Backuper is a Store that can write a consistent copy of itself while
// polls and requests go on: the copy opens as a store of the same backend.
type Backuper interface {
	// Backup writes the copy to w and returns the bytes written. It must
	// not stall writers while w is slow.
	Backup(ctx context.Context, w io.Writer) (int64, error)
}

// Leases share work among instances on one store: each due source is
// polled by one instance at a time (a poll lease), each origin host sees
// one request at a time spaced by a gap (a host lease, taken with the
// poll's), and work that must run on one instance only (the WebSub
// subscriber's requests, the hub's deliveries) has one holder (a role).
//
// A lease is held by an owner (an opaque id of 1 to MaxOwner bytes, one
// per running instance) until it expires or is released. Every time a
// lease speaks of is the backend's own clock: a database's (so that
// instances whose clocks are skewed agree on who holds what), a
// process's for an embedded store; answers give durations from that
// clock's now, which the caller adds to its own. NextPoll values are
// compared for equality only, never with a clock.
//
// A backend that one process holds (bbolt) keeps leases in memory: every
// owner is in the same process, and the same rules hold.
type Leases interface {
	// ClaimPoll asks for the poll lease of sourceID, whose requests go to
	// host (the unit of politeness, fetch's host key), for lease. seen is
	// the NextPoll the caller last knew for the source (zero: none). The
	// answer's Held says the caller may poll now: the source's lease and
	// the host's are owner's for lease (a claim by the holder renews
	// them). It is not held, with the time to wait in Wait, when another
	// owner holds the source's lease (Wait: until it expires) or the
	// host's (a short wait: the host's poll ends soon), or when the host's
	// gap (hostGap after the release of its last poll, as the host's
	// holder gave it) has not passed; and not held, with Wait zero and the
	// stored value in NextPoll, when the NextPoll released last (see
	// ReleasePoll) is not seen: another owner polled the source since the
	// caller read it, and the source is due at NextPoll. A source never
	// released has no NextPoll to compare: seen is not checked. One
	// claim is one short transaction; concurrent claims of one source
	// grant it once. An empty owner, sourceID or host, an owner over
	// MaxOwner bytes, or a lease <= 0, is feed.EINVALID.
	ClaimPoll(ctx context.Context, owner, sourceID, host string, seen time.Time, lease, hostGap time.Duration) (Claim, error)
	// RenewPoll extends owner's poll lease of sourceID and its host lease
	// by lease from now. It returns an error wrapping ErrLeaseLost when
	// owner does not hold it (it expired and was taken, or was released).
	RenewPoll(ctx context.Context, owner, sourceID, host string, lease time.Duration) error
	// ReleasePoll ends owner's poll lease of sourceID and its host lease,
	// recording next as the source's NextPoll (zero: none) and starting
	// the host's gap. It is called after the poll's state is saved, so
	// that the next claimant finds it. A lease owner does not hold is left
	// alone, and that is not an error (its poll was taken over: the
	// taker's NextPoll stands).
	ReleasePoll(ctx context.Context, owner, sourceID, host string, next time.Time) error
	// PollLeases returns how many poll leases owner holds now.
	PollLeases(ctx context.Context, owner string) (int, error)
	// HoldRole acquires role for owner for lease, or renews it when owner
	// holds it: held is true when owner holds it afterwards, false when
	// another owner's lease of it has not expired. An empty role or owner,
	// an owner over MaxOwner bytes, or a lease <= 0, is feed.EINVALID.
	HoldRole(ctx context.Context, role, owner string, lease time.Duration) (held bool, err error)
	// ReleaseRole gives role up when owner holds it, so that another owner
	// may take it at once; otherwise it does nothing.
	ReleaseRole(ctx context.Context, role, owner string) error
}

// MaxOwner bounds an owner's and a role's length in bytes.
const MaxOwner = 1024

// Claim is ClaimPoll's answer.
type Claim struct {
	// Held is true when the caller holds the source's and the host's
	// leases for the lease asked for.
	Held bool
	// Wait, when not Held, is how long to wait before claiming again; zero
	// when NextPoll says when instead.
	Wait time.Duration
	// NextPoll is the source's NextPoll as last released (zero: none).
	NextPoll time.Time
	// Holder is the owner of the source's lease when another holds it.
	Holder string
	// Host, when not Held, says the host was the reason (in flight or
	// within its gap): the caller holds back every source of the host for
	// Wait, not only this one.
	Host bool
}

// Lists are the mailing lists: each channel's subscribers, and per
// subscriber the send log (what was mailed to it, and the send under way).
// A subscriber is named by its channel and its address (as
// mail.ParseAddress returns it); records are bounded (see Subscriber), and
// every list is read in pages. The rules of a send's claim are
// ClaimSend's, the same in every backend, so that several instances on
// one store mail each subscriber each item once (see docs/mail.md).
type Lists interface {
	// AddSubscriber stores s as a new pending subscriber (State, Claim and
	// the send log are set by the store: pending, none, empty) and returns
	// it with created true; when the address is already on the channel's
	// list it returns that record unchanged and created false, except that
	// a bounced one starts again as pending (its reader signed up again).
	// A channel or address that is empty, too long (MaxListChannel,
	// MaxListAddress) or holds a control character is feed.EINVALID.
	AddSubscriber(ctx context.Context, s Subscriber) (got Subscriber, created bool, err error)
	// Subscriber returns the record of address on channel's list, or a
	// feed.ENOTFOUND error.
	Subscriber(ctx context.Context, channel, address string) (Subscriber, error)
	// Subscribers returns up to limit subscribers of channel, every state,
	// ordered by address (bytewise) from just after after ("": from the
	// first). limit <= 0 returns none.
	Subscribers(ctx context.Context, channel, after string, limit int) ([]Subscriber, error)
	// ListCounts returns how many subscribers of channel are in each state.
	ListCounts(ctx context.Context, channel string) (ListCounts, error)
	// MarkConfirmSent records at as the subscriber's ConfirmSent and
	// returns true, unless a confirmation was recorded less than every
	// before at (then false, nothing written): the one-an-hour rule,
	// decided in the store so that two instances send one. Only a pending
	// subscriber gets confirmations (false otherwise). A missing
	// subscriber is feed.ENOTFOUND.
	MarkConfirmSent(ctx context.Context, channel, address string, at time.Time, every time.Duration) (bool, error)
	// ConfirmSubscriber makes a pending subscriber confirmed at now, with
	// its send log starting after the member Seq from (the channel's last,
	// so that nothing older is mailed) and its last digest at now. A
	// subscriber already confirmed is returned unchanged; a missing or
	// bounced one is feed.ENOTFOUND.
	ConfirmSubscriber(ctx context.Context, channel, address string, now time.Time, from uint64) (Subscriber, error)
	// SetDigest sets the subscriber's digest (one of the feed digest modes,
	// or "" for the channel's); any other value is feed.EINVALID, a
	// missing subscriber feed.ENOTFOUND.
	SetDigest(ctx context.Context, channel, address, digest string) error
	// RemoveSubscriber deletes address from channel's list, its send log
	// with it; removing one that is not there is not an error.
	RemoveSubscriber(ctx context.Context, channel, address string) error
	// EraseAddress deletes address from every list and returns the
	// channels it was on, in bytewise order.
	EraseAddress(ctx context.Context, address string) ([]string, error)
	// PrunePending deletes, in transactions of a bounded number, the
	// pending subscribers created before before, and returns how many.
	PrunePending(ctx context.Context, before time.Time) (int, error)
	// ClaimSend claims the next send to one confirmed subscriber for
	// c.Owner until c.Until, atomically: at most one owner holds a
	// subscriber's claim at a time. It returns the record and true when
	// the claim was taken, with Pending set to the send to make: the
	// Pending left by a send that did not finish (a crash, a failure:
	// resent exactly, whatever c asks), else {After: SentSeq, UpTo:
	// c.UpTo, Period: c.Period}. It takes nothing (false, the record as
	// it is) when another owner's claim, or a SendResult's Wait, has not
	// expired at c.Now (Until is after it), the
	// subscriber is not confirmed, or there is nothing new to send: no
	// Pending, and c.UpTo is not above SentSeq (c.Period zero) or c.Period
	// is not after LastPeriod. A missing subscriber is feed.ENOTFOUND.
	ClaimSend(ctx context.Context, c SendClaim) (Subscriber, bool, error)
	// FinishSend records the end of owner's claimed send, as r says, and
	// releases the claim: see SendResult. It returns the record after; a
	// claim owner does not hold is feed.ECONFLICT and nothing is written.
	FinishSend(ctx context.Context, channel, address, owner string, r SendResult) (Subscriber, error)
	// ListChannels returns the channels with at least one subscriber, in
	// bytewise order (for a copy of every list: aggregator migrate).
	ListChannels(ctx context.Context) ([]string, error)
	// ImportSubscriber stores s exactly as given (its state, send log and
	// claim included), replacing any record of its channel and address:
	// the copy of a record read from another store. A bad channel,
	// address, state or digest is feed.EINVALID.
	ImportSubscriber(ctx context.Context, s Subscriber) error
	// MailSecret returns the secret of the mail links, storing candidate
	// as it the first time (every later call, from any instance, returns
	// that one). A candidate shorter than 32 bytes is feed.EINVALID.
	MailSecret(ctx context.Context, candidate []byte) ([]byte, error)
}

// Changes is the change feed between instances sharing one store: how an
// instance learns that another wrote, so that it renders what the other
// stored (what changed it reads from the write order, ItemsSince).
type Changes interface {
	// WatchChanges calls fn, one call at a time, until ctx ends, then
	// returns nil. It calls fn(0) when it begins listening and again
	// whenever it listens anew (a lost connection): writes committed
	// before may have been missed, so the caller reads the write order
	// from where it stands. After that, each write committed through
	// another handle of the store (another instance) that moved the write
	// order is followed by a call of fn with the write order's last Rev at that
	// commit (a rev below one already given means nothing more); calls
	// may be coalesced, may come for this handle's own writes and for
	// writes that moved nothing; a backend one process holds (bbolt) makes
	// none after the first. fn
	// must not block for long. It returns an error only when it cannot
	// watch at all (the store is closed); a backend whose connection
	// fails retries, with backoff, until ctx ends.
	WatchChanges(ctx context.Context, fn func(rev uint64)) error
}

// Copies are the reads that, with the other concerns' own, give the whole
// of a store, for aggregator migrate (internal/store/migrate), which
// copies one store into another of any backend that is an Importer.
type Copies interface {
	// Aliases returns the alias keys recorded for sourceID (its keys that
	// name a stored story: its copies of another source's stories, and
	// its own items under an older key), ordered by key (bytewise).
	Aliases(ctx context.Context, sourceID string) ([]Alias, error)
	// PrunedKeys returns the tombstones of sourceID (Tombstones counts
	// them), ordered by key (bytewise).
	PrunedKeys(ctx context.Context, sourceID string) ([]Tombstone, error)
	// LastSeq returns the highest Seq ever given, a deleted story's
	// included; 0 for a store that never stored one.
	LastSeq(ctx context.Context) (uint64, error)
}

// Alias is one alias key of a source: SourceID's Key names the stored
// story StorySource/StoryKey, merged by Rule ("link", "title", "rekey")
// at Seen.
type Alias struct {
	SourceID, Key         string
	StorySource, StoryKey string
	Rule                  string
	Seen                  time.Time
}

// Tombstone is one pruned key of a source and when it was pruned (to the
// second).
type Tombstone struct {
	SourceID, Key string
	At            time.Time
}

// Importer is a Store that can be filled with a copy of another store
// (aggregator migrate): the one write that keeps Seq and Rev as given.
type Importer interface {
	// Import writes c, in one transaction, into a store that held no
	// items, aliases or tombstones before the first Import. Calls come
	// in this order: every source state first (any number of calls with
	// States only), then the stories in Seq order (a call's Items, and
	// every call's after the last), then gone entries, aliases and
	// tombstones in any order, and ItemCounts last. The counters are
	// raised to LastRev and LastSeq. What the stories imply is rebuilt from them as SavePoll
	// would have filed them: each source's newest-first order (its
	// copies at their story's sort time), the link index (the first
	// story of each canonical link, by Seq), the title index, the id
	// claims (the first item of each upstream id not IDShared) and the
	// item counts. The caller checks that the store is empty.
	Import(ctx context.Context, c Copy) error
}

// Copy is one batch of Import.
type Copy struct {
	// States are source states as stored (Items is the store's own).
	States []feed.SourceState
	// Items are stories as ItemsSince returns them (Seq, Rev, Origins
	// and IDShared set), and gone entries (Seq zero: SourceID, Key, Rev).
	Items      []feed.Item
	Aliases    []Alias
	Tombstones []Tombstone
	// LastRev and LastSeq raise the write order's and Seq's counters.
	LastRev, LastSeq uint64
	// ItemCounts are sources' item counts (SourceItemCount) in the store
	// copied, given once its stories are imported: what is not a
	// source's own stories counts its copies merged into others' (which
	// a prune of the story they merged into does not take back).
	ItemCounts map[string]int
}
