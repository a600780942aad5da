package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one figure of the table: a value, its anchor measured in the same
// run (NaN when the figure has none) and the ratio to it, another anchor
// of the same run when the figure has two (the plain Go server beside
// nginx), the goal, and what peers measured outside the kit gave.
type row struct {
	Figure      string  `json:"figure"`
	Value       float64 `json:"value"`
	Unit        string  `json:"unit"`
	Anchor      string  `json:"anchor,omitempty"`
	AnchorValue float64 `json:"anchor_value,omitempty"`
	Ratio       float64 `json:"ratio,omitempty"`
	Also        string  `json:"also,omitempty"`
	AlsoValue   float64 `json:"also_value,omitempty"`
	AlsoRatio   float64 `json:"also_ratio,omitempty"`
	Goal        string  `json:"goal"`
	Met         string  `json:"met"` // "yes", "no", or "-" when not measured
	Note        string  `json:"note,omitempty"`
	Peers       string  `json:"peers,omitempty"`
}

type metrics map[string]float64

func (m metrics) get(k string) (float64, bool) { v, ok := m[k]; return v, ok }

// runReport reads the "key value" metrics bench/run collected, prints the
// table and writes it with the raw metrics as JSON.
func runReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	in := fs.String("metrics", "", "metrics file")
	out := fs.String("json", "", "write results here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	m, err := readMetrics(*in)
	if err != nil {
		return err
	}
	rows := table(m)
	if err := printTable(os.Stdout, rows); err != nil {
		return err
	}
	for i := range rows { // JSON has no NaN: an unmeasured value is 0, met "-"
		if math.IsNaN(rows[i].Value) {
			rows[i].Value = 0
		}
	}
	host, _ := os.Hostname()
	doc := map[string]any{
		"date": time.Now().UTC().Format(time.RFC3339), "nproc": runtime.NumCPU(),
		"go": runtime.Version(), "host": host, "rows": rows, "metrics": m,
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if *out == "" {
		return nil
	}
	return os.WriteFile(*out, append(b, '\n'), 0o644)
}

// printTable prints the rows, each anchor with its ratio, and the peers'
// figures (measured outside the kit, stated in issue 17) last.
func printTable(w io.Writer, rows []row) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\tanchor (same run)\tratio\tother anchor (same run)\tratio\tgoal\tmet\tpeers (issue 17, outside the kit)")
	for _, r := range rows {
		value := "not measured"
		if !math.IsNaN(r.Value) {
			value = num(r.Value) + " " + r.Unit
		}
		if r.Note != "" {
			value += " (" + r.Note + ")"
		}
		anchor, ratio := anchorCells(r.Anchor, r.AnchorValue, r.Ratio)
		also, alsoRatio := anchorCells(r.Also, r.AlsoValue, r.AlsoRatio)
		peers := r.Peers
		if peers == "" {
			peers = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Figure, value, anchor, ratio, also, alsoRatio, r.Goal, r.Met, peers)
	}
	return tw.Flush()
}

func anchorCells(name string, v, ratio float64) (string, string) {
	a, rr := "-", "-"
	if name != "" {
		a = num(v) + " " + name
		if v == 0 {
			a = "not measured " + name
		}
	}
	if ratio != 0 {
		rr = fmt.Sprintf("%.2f×", ratio)
	}
	return a, rr
}

func readMetrics(path string) (metrics, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := metrics{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if !ok {
			continue
		}
		if x, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			m[k] = x
		}
	}
	return m, sc.Err()
}

func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	case math.Abs(v) >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func met(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}
