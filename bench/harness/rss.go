package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// memory is what /proc/PID/status says of a process's resident memory, in
// KiB: the peak of the whole (VmHWM, kept by the kernel) and the current
// anonymous (heap, stacks), file-backed (mapped files: bbolt's map, the
// binary) and shared-memory parts.
type memory struct {
	HWM, Anon, File, Shmem int64
}

// readStatus reads the memory lines of a /proc/PID/status file.
func readStatus(path string) (memory, error) {
	f, err := os.Open(path)
	if err != nil {
		return memory{}, err
	}
	defer f.Close()
	var m memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch k {
		case "VmHWM":
			dst = &m.HWM
		case "RssAnon":
			dst = &m.Anon
		case "RssFile":
			dst = &m.File
		case "RssShmem":
			dst = &m.Shmem
		default:
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return memory{}, fmt.Errorf("%s: %s: %w", path, k, err)
		}
		*dst = n
	}
	return m, sc.Err()
}

// peaks keeps the largest of each part seen over the samples: the parts
// peak at different moments, so their peaks need not add up to VmHWM.
type peaks struct {
	memory
	samples int
}

func (p *peaks) add(m memory) {
	p.HWM = max(p.HWM, m.HWM)
	p.Anon = max(p.Anon, m.Anon)
	p.File = max(p.File, m.File)
	p.Shmem = max(p.Shmem, m.Shmem)
	p.samples++
}

// runRSS samples a process's memory every -every until the process ends or
// the harness gets SIGINT or SIGTERM, then prints NAME.maxrss_kb (VmHWM)
// and the peaks of NAME.anon_kb, NAME.file_kb and NAME.shmem_kb.
func runRSS(args []string) error {
	fs := flag.NewFlagSet("rss", flag.ContinueOnError)
	pid := fs.Int("pid", 0, "process to sample")
	name := fs.String("name", "rss", "metric name prefix")
	every := fs.Duration("every", 100*time.Millisecond, "sampling interval")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *pid <= 0 {
		return fmt.Errorf("-pid is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	path := fmt.Sprintf("/proc/%d/status", *pid)
	var p peaks
	t := time.NewTicker(*every)
	defer t.Stop()
	for {
		m, err := readStatus(path)
		if err != nil {
			break // the process is gone: report what was seen
		}
		p.add(m)
		select {
		case <-ctx.Done():
		case <-t.C:
			continue
		}
		break
	}
	if p.samples == 0 {
		return fmt.Errorf("process %d: no sample", *pid)
	}
	fmt.Printf("%s.maxrss_kb %d\n%s.anon_kb %d\n%s.file_kb %d\n%s.shmem_kb %d\n%s.samples %d\n",
		*name, p.HWM, *name, p.Anon, *name, p.File, *name, p.Shmem, *name, p.samples)
	return nil
}
