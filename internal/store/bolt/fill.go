package bolt

import "go.etcd.io/bbolt"

// denseFill is the FillPercent of the buckets whose writes come in runs of
// neighbouring keys, appended after the keys before them: in order
// (byrev, byseq, gone), a new source's or poll's items together (items,
// aliases and tombstones per source, ids and links by the source's URLs,
// memberof by story). bbolt splits a page at FillPercent of
// its size, 0.5 by default, so such runs were written half full: every
// bucket of the bench's 1,000-source store used 48–52% of its leaf pages
// (items 99 MB of 181 MB). A page a later write lands in the middle of
// splits into a full one and the rest, which the next writes there fill.
// The titles bucket (hashes: random inserts), the membership indexes
// (members by time across sources) and bytime keep the default. bytime
// takes a poll's new items in front of a source's older ones: at 0.9 the
// front page, once full, splits into 90% and a remainder of the few
// entries it was over, polls after polls (48% used after 20 polls of 50
// items of the test's kind); at 0.9 the members bucket of the bench
// store took 26.5 MB for 13.5 MB, at 0.5 22.3 MB.
const denseFill = 0.9

// denseBuckets are the top-level buckets written densely.
var denseBuckets = [][]byte{bucketItems, bucketAliases, bucketTombstones, bucketByRev, bucketBySeq,
	bucketGone, bucketIDs, bucketLinks, bucketMemberOf}

// dense sets denseFill on the top-level buckets of a write transaction
// (bbolt keeps one handle per bucket and transaction, so it holds for the
// whole of it); the nested buckets of a source get it where a poll opens
// them (fill).
func dense(tx *bbolt.Tx) {
	for _, name := range denseBuckets {
		fill(tx.Bucket(name))
	}
}

// fill sets denseFill on b, when there is one.
func fill(b *bbolt.Bucket) {
	if b != nil {
		b.FillPercent = denseFill
	}
}
