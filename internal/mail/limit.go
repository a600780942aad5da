package mail

import (
	"net/netip"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
)

// Suggested limits for the sign-up routes.
const (
	// ConfirmEvery is the least time between two confirmation mails to one
	// address: repeated sign-ups of an address send one an hour at most.
	ConfirmEvery = time.Hour
	// SignupsPerHour and SignupBurst bound the sign-ups of one client
	// (KeyLimit keyed by ClientKey): a burst of 5, then 10 an hour.
	SignupsPerHour = 10
	SignupBurst    = 5
	// LimitKeys is how many keys (addresses, clients) a KeyLimit
	// remembers: about 20 MB at 100,000 (see BenchmarkKeyLimitMemory).
	LimitKeys = 100_000
)

// KeyLimit allows an event for a key (an address, a client) at most burst
// times at once and then once every `every`, a token bucket per key. It
// remembers at most size keys: when full it forgets the one used least
// recently, which then starts again with a full bucket, so memory is
// bounded whatever the traffic and an eviction only ever lets an event
// through, never blocks one. Pass the time: KeyLimit reads no clock. It is
// safe for concurrent use.
type KeyLimit struct {
	mu    sync.Mutex
	keys  *simplelru.LRU[string, *rate.Limiter]
	every rate.Limit
	burst int
}

// NewKeyLimit returns a KeyLimit of burst events then one per every, for
// at most size keys. Confirmations: NewKeyLimit(LimitKeys, ConfirmEvery, 1).
// Sign-ups per client: NewKeyLimit(LimitKeys, time.Hour/SignupsPerHour, SignupBurst).
func NewKeyLimit(size int, every time.Duration, burst int) *KeyLimit {
	keys, err := simplelru.NewLRU[string, *rate.Limiter](max(size, 1), nil)
	if err != nil {
		panic(err) // only for a size below 1, which max rules out
	}
	return &KeyLimit{keys: keys, every: rate.Every(every), burst: max(burst, 1)}
}

// Allow reports whether an event for key may happen at now, and counts it
// when it may.
func (l *KeyLimit) Allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.keys.Get(key)
	if !ok {
		lim = rate.NewLimiter(l.every, l.burst)
		l.keys.Add(key, lim)
	}
	return lim.AllowN(now, 1)
}

// Len is how many keys l remembers.
func (l *KeyLimit) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.keys.Len()
}

// ClientKey is the key of a client address for KeyLimit: an IPv4 address
// itself, an IPv6 address by its /64 (one subscriber line holds a whole
// /64, so a key per address would be no limit at all). An IPv4-mapped
// IPv6 address is its IPv4 address.
func ClientKey(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
