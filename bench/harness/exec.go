package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// runExec runs a command with the harness's stdio, and prints its wall
// time, its CPU time (user + system), its peak resident set (from the kernel's rusage, so no /usr/bin/time
// is needed) and its exit status. A failing command is not an error here:
// the caller reads NAME.exit.
func runExec(args []string) error {
	fs := flag.NewFlagSet("exec", flag.ContinueOnError)
	name := fs.String("name", "cmd", "metric name prefix")
	out := fs.String("out", "", "append the metrics to this file (default stdout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("no command")
	}
	cmd := exec.Command(fs.Arg(0), fs.Args()[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return err
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss // KiB on Linux
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	w := os.Stdout
	if *out != "" {
		f, err := os.OpenFile(*out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	_, err = fmt.Fprintf(w, "%s.wall_s %.4f\n%s.cpu_s %.4f\n%s.maxrss_kb %d\n%s.exit %d\n",
		*name, wall.Seconds(), *name, cpu.Seconds(), *name, rss, *name, cmd.ProcessState.ExitCode())
	return err
}
