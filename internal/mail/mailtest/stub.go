package mailtest

import (
	"bufio"
	"bytes"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Stub is a small SMTP server on loopback whose replies the test chooses,
// for what Mailpit cannot be told to do: refuse DATA, drop the connection
// in the middle of a transaction, count connections. It speaks enough of
// RFC 5321 for go-mail: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
type Stub struct {
	Addr string // 127.0.0.1:port

	// Reply, when set, chooses the reply to the greeting ("CONNECT") or a
	// command ("MAIL" with the sender as arg, "RCPT" with the recipient,
	// "DATA" at the end of the message data with the recipients): a full
	// reply line such as "550 5.1.1 no such user", "" for the usual
	// success, or Drop to close the connection without a reply. It is
	// called from the stub's goroutines.
	Reply func(cmd, arg string) string

	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]bool
	dials int
	msgs  []StubMessage
}

// Drop, returned by Reply, closes the connection instead of replying.
const Drop = "drop"

// StubMessage is a message the stub accepted.
type StubMessage struct {
	From string
	To   []string
	Data []byte
}

// Bounds of what the stub reads.
const (
	stubMaxLine = 4096
	stubMaxData = 16 << 20
)

// StartStub starts a stub that replies with reply (nil: accept
// everything) and stops it, joining its goroutines, when the test ends.
func StartStub(t testing.TB, reply func(cmd, arg string) string) *Stub {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Stub{Addr: ln.Addr().String(), Reply: reply, ln: ln, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.close)
	return s
}

// SMTPURL is the mail.smtp URL of the stub.
func (s *Stub) SMTPURL() string { return "smtp://" + s.Addr }

// Dials is how many connections the stub has accepted.
func (s *Stub) Dials() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dials
}

// Messages returns the messages accepted so far.
func (s *Stub) Messages() []StubMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]StubMessage(nil), s.msgs...)
}

func (s *Stub) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Stub) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = true
		s.dials++
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.session(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

func (s *Stub) reply(cmd, arg, ok string) string {
	if s.Reply != nil {
		if r := s.Reply(cmd, arg); r != "" {
			return r
		}
	}
	return ok
}

// session serves one connection until QUIT, a Drop or an error.
func (s *Stub) session(c net.Conn) {
	r := bufio.NewReaderSize(c, stubMaxLine)
	w := bufio.NewWriter(c)
	send := func(line string) bool {
		if line == Drop {
			return false
		}
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		w.WriteString(line + "\r\n")
		return w.Flush() == nil
	}
	readLine := func() (string, bool) {
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		line, err := r.ReadSlice('\n')
		if err != nil {
			return "", false
		}
		return strings.TrimRight(string(line), "\r\n"), true
	}
	if !send(s.reply("CONNECT", "", "220 stub ESMTP")) {
		return
	}
	var msg StubMessage
	for {
		line, ok := readLine()
		if !ok {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			ok = send("250-stub\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 SIZE 16777216")
		case "HELO":
			ok = send("250 stub")
		case "MAIL":
			msg = StubMessage{From: address(arg)}
			ok = send(s.reply("MAIL", msg.From, "250 2.1.0 ok"))
		case "RCPT":
			to := address(arg)
			rep := s.reply("RCPT", to, "250 2.1.5 ok")
			if strings.HasPrefix(rep, "250") {
				msg.To = append(msg.To, to)
			}
			ok = send(rep)
		case "DATA":
			if len(msg.To) == 0 {
				ok = send("503 5.5.1 no recipients")
				break
			}
			if !send("354 go ahead") {
				return
			}
			var data bytes.Buffer
			for {
				l, more := readLine()
				if !more {
					return
				}
				if l == "." {
					break
				}
				if data.Len() < stubMaxData {
					data.WriteString(strings.TrimPrefix(l, ".") + "\r\n")
				}
			}
			msg.Data = data.Bytes()
			rep := s.reply("DATA", strings.Join(msg.To, ","), "250 2.0.0 queued")
			if strings.HasPrefix(rep, "250") {
				s.mu.Lock()
				s.msgs = append(s.msgs, msg)
				s.mu.Unlock()
			}
			msg = StubMessage{}
			ok = send(rep)
		case "RSET":
			msg = StubMessage{}
			ok = send("250 2.0.0 ok")
		case "NOOP":
			ok = send("250 2.0.0 ok")
		case "QUIT":
			send("221 2.0.0 bye")
			return
		default:
			ok = send("502 5.5.2 not implemented")
		}
		if !ok {
			return
		}
	}
}

// address returns the address of "FROM:<a@b> BODY=8BITMIME".
func address(arg string) string {
	if i := strings.IndexByte(arg, '<'); i >= 0 {
		if j := strings.IndexByte(arg[i:], '>'); j > 0 {
			return arg[i+1 : i+j]
		}
	}
	return arg
}
