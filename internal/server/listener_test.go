package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// keepAlive opens a connection from local (a loopback address) to addr,
// sends one GET /healthz and reads the answer, leaving the connection open
// and idle. It returns nil if the server closed the connection instead.
func keepAlive(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", local, err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		c.Close()
		return nil
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		c.Close()
		return nil
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	c.SetDeadline(time.Time{})
	return c
}

// serveLimited serves /healthz behind a Listener on 127.0.0.1.
func serveLimited(t *testing.T, o ListenerOptions) (*Listener, string) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := NewListener(inner, o)
	srv := &http.Server{
		Handler:     New(fakeFeeds{}, fakeHealth{}, Options{}),
		ConnState:   l.ConnState,
		IdleTimeout: 2 * time.Minute, // the idle keep-alives stay unless the listener closes them
	}
	var wg sync.WaitGroup
	wg.Go(func() { srv.Serve(l) })
	t.Cleanup(func() {
		srv.Close()
		wg.Wait()
	})
	return l, inner.Addr().String()
}

// TestIdleKeepAlivesCannotLockOut is the audit's case 6: idle keep-alives
// that filled server.max_connections kept a new client's /healthz waiting
// for the idle timeout (120 s). One client gets at most PerClient
// connections; many clients' idle ones are closed, oldest first, to let a
// new client in.
func TestIdleKeepAlivesCannotLockOut(t *testing.T) {
	l, addr := serveLimited(t, ListenerOptions{Max: 32, PerClient: 8, PressureIdle: time.Hour})
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	kept := 0
	for range 40 { // one client, many idle keep-alives
		if c := keepAlive(t, "127.0.0.2", addr); c != nil {
			conns = append(conns, c)
			kept++
		}
	}
	if kept != 8 {
		t.Errorf("one client kept %d connections, want PerClient = 8", kept)
	}
	for i := range 6 { // many clients: 48 idle keep-alives asked for, 32 slots
		for range 8 {
			if c := keepAlive(t, fmt.Sprintf("127.0.1.%d", i+1), addr); c != nil {
				conns = append(conns, c)
			}
		}
	}
	if n := l.Open(); n > 32 {
		t.Errorf("%d connections open, want at most Max = 32", n)
	}
	done := make(chan error, 1)
	go func() {
		c := keepAlive(t, "127.0.2.1", addr)
		if c == nil {
			done <- fmt.Errorf("closed")
			return
		}
		c.Close()
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("a new client's /healthz: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a new client's /healthz did not answer in 10 s")
	}
}

// TestPressureClosesIdleSooner: past Pressure, a new connection closes
// those idle longer than PressureIdle; below it, idle ones stay.
func TestPressureClosesIdleSooner(t *testing.T) {
	l, addr := serveLimited(t, ListenerOptions{Max: 100, Pressure: 4, PerClient: 100, PressureIdle: 50 * time.Millisecond})
	var conns []net.Conn
	for range 4 {
		conns = append(conns, keepAlive(t, "127.0.0.3", addr))
	}
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	if n := l.Open(); n != 4 {
		t.Fatalf("%d open, want 4", n)
	}
	time.Sleep(100 * time.Millisecond) // idle past PressureIdle
	c := keepAlive(t, "127.0.0.4", addr)
	if c == nil {
		t.Fatal("the new client was refused")
	}
	defer c.Close()
	// The four idle ones were closed: their next read sees EOF.
	for i, old := range conns {
		old.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := old.Read(make([]byte, 1)); err == nil || strings.Contains(err.Error(), "timeout") {
			t.Errorf("idle connection %d still open under pressure (%v)", i, err)
		}
	}
	if n := l.Open(); n != 1 {
		t.Errorf("%d open, want 1", n)
	}
}
