package server

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// ListenerOptions bounds the connections a Listener keeps open.
type ListenerOptions struct {
	// Max caps the connections open at once. Past Pressure (three
	// quarters of Max when zero) an accepted connection closes those idle
	// for PressureIdle (1 s when zero), and at Max it closes the one idle
	// longest; only when none is idle does Accept wait for a close.
	Max          int
	Pressure     int
	PressureIdle time.Duration
	// PerClient caps the connections of one client (an IPv4 address, an
	// IPv6 /64); a connection past it is closed as soon as it is accepted.
	PerClient int
}

// Listener is a net.Listener that limits connections in total and per
// client, and closes idle keep-alives early under pressure, so that many
// idle connections (from one client or many) cannot keep a new client out.
// Give its ConnState to the http.Server, which tells it which connections
// are idle. Safe for concurrent use.
type Listener struct {
	net.Listener
	o ListenerOptions

	mu       sync.Mutex
	freed    *sync.Cond
	open     int
	byClient map[netip.Prefix]int // entries only for clients with a connection open: at most Max
	conns    map[*conn]struct{}   // the connections open: at most Max
}

// NewListener wraps ln; Max and PerClient must be positive.
func NewListener(ln net.Listener, o ListenerOptions) *Listener {
	if o.Pressure <= 0 || o.Pressure > o.Max {
		o.Pressure = o.Max * 3 / 4
	}
	if o.PressureIdle <= 0 {
		o.PressureIdle = time.Second
	}
	l := &Listener{Listener: ln, o: o, byClient: map[netip.Prefix]int{}, conns: map[*conn]struct{}{}}
	l.freed = sync.NewCond(&l.mu)
	return l
}

// clientOf is the client a remote address counts against.
func clientOf(addr net.Addr) netip.Prefix {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return netip.Prefix{}
	}
	a := ap.Addr().Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// Accept returns the next connection within the limits.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		client := clientOf(c.RemoteAddr())
		l.mu.Lock()
		if l.byClient[client] >= l.o.PerClient {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.byClient[client]++
		l.makeRoom()
		l.open++
		nc := &conn{Conn: c, l: l, client: client}
		l.conns[nc] = struct{}{}
		l.mu.Unlock()
		return nc, nil
	}
}

// makeRoom closes idle connections as the pressure asks, then waits, if
// every slot is busy, for one to close. l.mu is held.
func (l *Listener) makeRoom() {
	if l.open >= l.o.Pressure {
		cutoff := time.Now().Add(-l.o.PressureIdle).UnixNano()
		for c := range l.conns {
			if since := c.idleSince.Load(); since != 0 && since < cutoff {
				l.closeIdle(c)
			}
		}
	}
	for l.open >= l.o.Max {
		var oldest *conn
		var at int64
		for c := range l.conns {
			if since := c.idleSince.Load(); since != 0 && (oldest == nil || since < at) {
				oldest, at = c, since
			}
		}
		if oldest == nil {
			l.freed.Wait()
			continue
		}
		l.closeIdle(oldest)
	}
}

// closeIdle closes an idle connection, which frees its slot at once.
// l.mu is held.
func (l *Listener) closeIdle(c *conn) {
	c.release()
	go c.Conn.Close() // outside the lock; the server sees the close and forgets it
}

// ConnState is the http.Server's ConnState hook. It only marks the
// connection, without the lock: it runs twice a request, and its lock
// and map were 3% of a 304 under load.
func (l *Listener) ConnState(nc net.Conn, state http.ConnState) {
	c, ok := nc.(*conn)
	if !ok {
		return
	}
	if state == http.StateIdle {
		c.idleSince.Store(time.Now().UnixNano())
	} else {
		c.idleSince.Store(0)
	}
}

// Open returns the number of connections open.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// conn is an accepted connection, counted until its first Close.
type conn struct {
	net.Conn
	l         *Listener
	client    netip.Prefix
	released  bool         // guarded by l.mu
	idleSince atomic.Int64 // Unix nanoseconds since it is idle; 0 while not idle
}

// release gives the connection's slot back. l.mu is held.
func (c *conn) release() {
	if c.released {
		return
	}
	c.released = true
	l := c.l
	l.open--
	if l.byClient[c.client]--; l.byClient[c.client] <= 0 {
		delete(l.byClient, c.client)
	}
	delete(l.conns, c)
	l.freed.Signal()
}

func (c *conn) Close() error {
	c.l.mu.Lock()
	c.release()
	c.l.mu.Unlock()
	return c.Conn.Close()
}

// ReadFrom keeps sendfile for responses copied from a file (the backup).
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(c.Conn, r)
}
