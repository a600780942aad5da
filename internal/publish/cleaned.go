package publish

import (
	"sync"

	"github.com/kpolicy/aggregator/internal/tracking"
)

// cleanedMax bounds what a cleanedMemo holds, inputs and outputs
// together, in bytes: the summaries and contents of a few hundred items.
const cleanedMax = 4 << 20

// cleanedMemo remembers what prepare made of an item's HTML (tracking
// stripped, re-serialised, URLs resolved, XML's forbidden characters
// removed): a pure function of the fragment and its base, and most of a
// render's time, while a channel's next render after a poll shows 49 of
// its 50 items again. Two generations: a fragment is looked up in the
// current one, then in the previous (and moved to the current); when the
// current one passes half of cleanedMax the previous is dropped, so what
// the last renders used stays and the rest goes. Safe for concurrent use.
type cleanedMemo struct {
	mu        sync.Mutex
	cur, prev map[cleanedKey]string
	curBytes  int
}

type cleanedKey struct{ fragment, base string }

func newCleanedMemo() *cleanedMemo {
	return &cleanedMemo{cur: map[cleanedKey]string{}, prev: map[cleanedKey]string{}}
}

// clean is cleanItemHTML(fragment, base), remembered; m nil remembers
// nothing.
func (m *cleanedMemo) clean(fragment, base string) string {
	if m == nil || fragment == "" {
		return cleanItemHTML(fragment, base)
	}
	k := cleanedKey{fragment, base}
	m.mu.Lock()
	out, ok := m.cur[k]
	if !ok {
		if out, ok = m.prev[k]; ok {
			m.put(k, out)
		}
	}
	m.mu.Unlock()
	if ok {
		return out
	}
	out = cleanItemHTML(fragment, base) // unlocked: renders run side by side
	m.mu.Lock()
	m.put(k, out)
	m.mu.Unlock()
	return out
}

// put adds k to the current generation; m.mu held.
func (m *cleanedMemo) put(k cleanedKey, out string) {
	if _, ok := m.cur[k]; ok {
		return
	}
	n := len(k.fragment) + len(k.base) + len(out)
	if n > cleanedMax/4 {
		return // one huge item would push out every other
	}
	if m.curBytes+n > cleanedMax/2 {
		m.prev, m.cur, m.curBytes = m.cur, map[cleanedKey]string{}, 0
	}
	m.cur[k] = out
	m.curBytes += n
}

// cleanItemHTML is what prepare makes of a summary or content.
func cleanItemHTML(fragment, base string) string {
	return xmlChars(cleanHTML(tracking.StripHTML(fragment), base))
}
