package main

import (
	"context"
	"fmt"
	"io"

	"github.com/kpolicy/aggregator/internal/server"
)

// runStatus prints what GET /status shows: the config, then one row per
// source, failing first, each with its URL and what went wrong or needs
// attention. When a running server holds the database it asks that server
// (GET /admin/status), which also says when its config was loaded and the
// last reload it refused.
func runStatus(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var f flags
	fs := newFlagSet("status", getenv, stderr, &f, true, false)
	fs.StringVar(&f.addr, "addr", getenv("AGGREGATOR_ADDR"), addrUsage)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(f)
	if err != nil {
		return err
	}
	var st server.Status
	db, err := openStore(cfg, true)
	if err != nil {
		r, err := reach(cfg, getenv, err)
		if err != nil {
			return err
		}
		if err := r.call(ctx, "GET", "/admin/status", nil, nil, &st); err != nil {
			return err
		}
	} else {
		defer db.Close()
		states, err := db.States(ctx)
		if err != nil {
			return err
		}
		st = server.Status{Config: &server.ConfigStatus{File: f.config, Warnings: cfg.Warnings()}, Sources: server.StatusOf(cfg.Sources, states)}
		server.FailingFirst(st.Sources)
	}
	printStatus(stdout, st)
	return nil
}

// printStatus prints what the status command prints of a status.
func printStatus(w io.Writer, st server.Status) {
	if c := st.Config; c != nil {
		loaded := ""
		if !c.Loaded.IsZero() {
			loaded = ", loaded " + stamp(c.Loaded)
		}
		fmt.Fprintf(w, "config %s%s\n", c.File, loaded)
		if r := c.Rejected; r != nil {
			fmt.Fprintf(w, "reload rejected at %s (%s): still serving the config loaded before; problems (%d):\n", stamp(r.At), r.Why, len(r.Problems))
			for _, p := range r.Problems {
				fmt.Fprintf(w, "  %s\n", p)
			}
		}
		for _, warn := range c.Warnings {
			fmt.Fprintf(w, "warning: %s\n", warn)
		}
	}
	if ix := st.Index; ix != nil && ix.LastError != "" {
		fmt.Fprintf(w, "search index failing (%d consecutive errors): %s\n", ix.Failing, ix.LastError)
	}
	var failing, retired int
	header := []string{"SOURCE", "STATE", "STATUS", "ITEMS", "ERRS", "LAST SUCCESS", "NEXT POLL"}
	right := []bool{false, false, false, true, true, false, false}
	rows := [][]string{header}
	var notes [][]string
	for _, s := range st.Sources {
		state := "ok"
		switch {
		case s.Retired:
			state, retired = "retired", retired+1
		case s.Failing():
			state, failing = "failing", failing+1
		case s.Disabled:
			state = "disabled"
		case !s.Polled:
			state = "not polled"
		}
		status := "-"
		if s.LastStatus != 0 {
			status = fmt.Sprint(s.LastStatus)
		}
		rows = append(rows, []string{clip(s.ID, 20), state, status, fmt.Sprint(s.Items), fmt.Sprint(s.Errors), shortTime(s.LastSuccess), shortTime(s.NextPoll)})
		n := []string{"  " + clip(s.CurrentURL, tableWidth-2)}
		if s.LastError != "" && s.Failing() {
			n = append(n, "  "+clip("error: "+s.LastError, tableWidth-2))
		}
		for _, warn := range s.Warnings {
			n = append(n, "  "+clip("warning: "+warn, tableWidth-2))
		}
		notes = append(notes, n)
	}
	writeTable(w, rows, right, notes)
	fmt.Fprintf(w, "%d sources, %d failing, %d retired\n", len(st.Sources), failing, retired)
}
