package server

import (
	"context"
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
// are idle, and its ConnContext, through which a document's reply goes out
// in one system call (conn.holdNext). Safe for concurrent use.
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

// ConnContext is the http.Server's ConnContext hook: it puts the
// connection in its requests' context, for serveBytes to send a
// response's head and body in one system call (conn.holdNext).
func (l *Listener) ConnContext(ctx context.Context, nc net.Conn) context.Context {
	if c, ok := nc.(*conn); ok {
		return context.WithValue(ctx, connKey{}, c)
	}
	return ctx
}

// connKey is the context key of a request's connection.
type connKey struct{}

// connOf is the connection r came on, if a Listener accepted it and it
// speaks HTTP/1 (whose writes are the handler's own, one goroutine).
func connOf(r *http.Request) *conn {
	if r.ProtoMajor != 1 {
		return nil
	}
	c, _ := r.Context().Value(connKey{}).(*conn)
	return c
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

	// hold and held are the write coalescing of holdNext; only the
	// goroutine serving the connection's requests touches them.
	hold bool
	held *[]byte
}

// maxHeld is the largest write held: net/http's buffer of a connection's
// writes is 4 KB.
const maxHeld = 4 << 10

var heldBufs = sync.Pool{New: func() any { b := make([]byte, 0, maxHeld); return &b }}

// holdNext keeps the connection's next Write, when it is at most maxHeld
// bytes, to go out with the Write after it in one writev. net/http writes
// a response larger than its 4 KB buffer as that buffer full (the head
// and the body's start) and then the rest: two system calls where one
// does (bench/RESULTS.md, issue 17, round 12). The caller ends with
// sendHeld, which writes what is still held.
func (c *conn) holdNext() { c.hold = true }

// sendHeld writes what holdNext kept, if anything, and stops holding.
func (c *conn) sendHeld() error {
	c.hold = false
	if c.held == nil {
		return nil
	}
	b := c.held
	c.held = nil
	_, err := c.Conn.Write(*b)
	putHeld(b)
	return err
}

func putHeld(b *[]byte) {
	*b = (*b)[:0]
	heldBufs.Put(b)
}

func (c *conn) Write(p []byte) (int, error) {
	switch {
	case c.held != nil:
		b := c.held
		c.held = nil
		bufs := net.Buffers{*b, p}
		n, err := bufs.WriteTo(c.Conn)
		held := int64(len(*b))
		putHeld(b)
		if n < held {
			// The held bytes were reported written; the connection is
			// broken either way, and net/http closes it on this error.
			return 0, err
		}
		return int(n - held), err
	case c.hold && len(p) <= maxHeld:
		c.hold = false
		b := heldBufs.Get().(*[]byte)
		*b = append(*b, p...)
		c.held = b
		return len(p), nil
	}
	return c.Conn.Write(p)
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
	if err := c.sendHeld(); err != nil {
		return 0, err
	}
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(c.Conn, r)
}
