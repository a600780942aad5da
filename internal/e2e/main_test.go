package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the aggregator built by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "aggregator-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "aggregator")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command(goTool, append(args, "github.com/kpolicy/aggregator/cmd/aggregator")...)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build aggregator: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// long reports whether the long variants were asked for.
func long() bool { return os.Getenv("AGGREGATOR_LONG") == "1" }

// syncBuffer is an io.Writer safe to read while a process writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is one running aggregator.
type proc struct {
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{} // closed when the process has exited and its output is read
	err    error         // Wait's error, set before done is closed
	Base   string        // http://host:port, for serve
}

// start runs the binary with args. It does not wait for anything.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	return startEnv(t, nil, args...)
}

// startEnv runs the binary with args and the variables env ("KEY=value")
// added to the environment.
func startEnv(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary, args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	p.cmd.Env = append(append(os.Environ(), "AGGREGATOR_CONFIG=", "AGGREGATOR_DB=", "AGGREGATOR_ADDR=", "AGGREGATOR_ADMIN_TOKEN="), env...)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		// A race found in the process fails the test that ran it, killed
		// or not (a clean exit would also say so with status 66).
		if log := p.stderr.String(); strings.Contains(log, "WARNING: DATA RACE") {
			t.Errorf("the race detector found a race in %s:\n%s", p.cmd.Args, log)
		}
	})
	return p
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

// serve starts "aggregator serve -config cfg" and waits until it listens.
func serve(t *testing.T, cfg string, extra ...string) *proc {
	t.Helper()
	return serveEnv(t, nil, cfg, extra...)
}

// serveEnv is serve with the variables env added to the environment.
func serveEnv(t *testing.T, env []string, cfg string, extra ...string) *proc {
	t.Helper()
	p := startEnv(t, env, append([]string{"serve", "-config", cfg}, extra...)...)
	deadline := time.After(30 * time.Second)
	for {
		if m := listening.FindStringSubmatch(p.stdout.String()); m != nil {
			p.Base = m[1]
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("serve exited before listening: %v\nstdout:\n%s\nstderr:\n%s", p.err, p.stdout, p.stderr)
		case <-deadline:
			t.Fatalf("serve did not listen within 30s\nstderr:\n%s", p.stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// wait waits at most d for the process to exit and returns its exit code
// (-1 when killed by a signal).
func (p *proc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%s did not exit within %s\nstderr:\n%s", p.cmd.Args, d, p.stderr)
	}
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// signal sends sig to the process.
func (p *proc) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// pollLine is one "poll" line of the serve log.
type pollLine struct {
	source string
	status int
	new    int
}

var logField = regexp.MustCompile(`(\w+)=("(?:[^"\\]|\\.)*"|\S*)`)

// polls returns the completed polls a serve log reports, in order: one
// " msg=poll " line is written after the poll's items are committed.
func polls(log string) []pollLine {
	var out []pollLine
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, " msg=poll ") {
			continue
		}
		var pl pollLine
		for _, m := range logField.FindAllStringSubmatch(line, -1) {
			switch m[1] {
			case "source":
				pl.source = m[2]
			case "status":
				pl.status, _ = strconv.Atoi(m[2])
			case "new":
				pl.new, _ = strconv.Atoi(m[2])
			}
		}
		out = append(out, pl)
	}
	return out
}

// get fetches url and returns the status and body; a transport error fails
// the test.
func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, body
}

// writeFile writes content to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
