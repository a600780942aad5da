package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one figure of the table: a value, its anchor measured in the same
// run (NaN when the figure has none), and the goal.
type row struct {
	Figure      string  `json:"figure"`
	Value       float64 `json:"value"`
	Unit        string  `json:"unit"`
	Anchor      string  `json:"anchor,omitempty"`
	AnchorValue float64 `json:"anchor_value,omitempty"`
	Ratio       float64 `json:"ratio,omitempty"`
	Goal        string  `json:"goal"`
	Met         string  `json:"met"` // "yes", "no", or "-" when not measured
	Note        string  `json:"note,omitempty"`
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
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\tanchor (same run)\tratio\tgoal\tmet")
	for _, r := range rows {
		anchor, ratio := "-", "-"
		if r.Anchor != "" {
			anchor = fmt.Sprintf("%s %s", num(r.AnchorValue), r.Anchor)
		}
		if r.Ratio != 0 {
			ratio = fmt.Sprintf("%.2f×", r.Ratio)
		}
		value := "not measured"
		if !math.IsNaN(r.Value) {
			value = num(r.Value) + " " + r.Unit
		}
		if r.Note != "" {
			value += " (" + r.Note + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Figure, value, anchor, ratio, r.Goal, r.Met)
	}
	tw.Flush()
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

// table computes the figures of issue 7 from the metrics.
func table(m metrics) []row {
	var rows []row
	nan := math.NaN()
	ratioRow := func(figure, key, anchorKey, unit, anchor string, goal float64, note string) {
		v, ok1 := m.get(key)
		a, ok2 := m.get(anchorKey)
		r := row{Figure: figure, Value: nan, Unit: unit, Anchor: anchor, Goal: fmt.Sprintf("≥ %.1f×", goal), Met: "-", Note: note}
		if ok1 && ok2 && a > 0 && v > 0 {
			r.Value, r.AnchorValue, r.Ratio = v, a, v/a
			r.Met = met(v/a >= goal)
		}
		rows = append(rows, r)
	}
	bad := func(k string) string {
		if n := m["agg."+k+".bad"]; n > 0 {
			return fmt.Sprintf("%d responses not 2xx/3xx", int(n))
		}
		return ""
	}
	ratioRow("channel feed GET, 64 connections", "agg.get.rps", "nginx.get.rps", "req/s", "req/s nginx", 0.9, bad("get"))
	// The latency goal of issue 7, once printed (never checked) by the e2e
	// load test: reported here, where a figure belongs.
	lat := row{Figure: "feed GET latency, p99", Value: nan, Unit: "ms", Anchor: "ms nginx p99", Goal: "< 50 ms", Met: "-"}
	if v, ok := m.get("agg.get.p99_ms"); ok && v > 0 {
		lat.Value, lat.Met = v, met(v < 50)
		lat.Note = fmt.Sprintf("p50 %s ms", num(m["agg.get.p50_ms"]))
		if a, ok := m.get("nginx.get.p99_ms"); ok && a > 0 {
			lat.AnchorValue, lat.Ratio = a, v/a
		}
	}
	rows = append(rows, lat)
	note := bad("304")
	if s, ok := m.get("agg.304.status"); ok && s != 304 {
		note = fmt.Sprintf("answered %d, not 304", int(s))
	}
	ratioRow("conditional GET → 304", "agg.304.rps", "nginx.304.rps", "req/s", "req/s nginx 304", 0.9, note)
	note = bad("gzip")
	if e, ok := m.get("agg.gzip.encoded"); ok && e == 0 {
		note = "not gzip'd: sent identity bytes"
	}
	ratioRow("gzip'd feed GET", "agg.gzip.rps", "nginx.gzip.rps", "req/s", "req/s nginx gzip_static", 0.9, note)

	// Ingest: new items over the wall time of `aggregator fetch`.
	r := row{Figure: fmt.Sprintf("ingest, %d sources, cold store", int(m["ingest.polled"])), Value: nan, Unit: "items/s",
		Anchor: "items/s gofeed parse-only", Goal: "≥ 0.5×", Met: "-"}
	if w := m["ingest.wall_s"]; w > 0 && m["gofeed.items_per_s"] > 0 {
		r.Value = m["ingest.new"] / w
		r.AnchorValue = m["gofeed.items_per_s"]
		r.Ratio = r.Value / r.AnchorValue
		r.Met = met(r.Ratio >= 0.5)
		r.Note = fmt.Sprintf("%d items in %.1f s using %.2f cores, %d sources failed",
			int(m["ingest.new"]), w, m["ingest.cpu_s"]/w, int(m["ingest.failed"]))
	}
	rows = append(rows, r)
	r = row{Figure: "ingest: items lost", Value: nan, Unit: "items", Goal: "0", Met: "-"}
	if e, ok := m.get("expect.identities"); ok {
		stored := m["store.items"]
		r.Value = math.Max(0, e-stored)
		// A source whose body the parser refuses (the corpus has a JSON
		// file that is not a JSON Feed) fails its poll; that loses nothing.
		refused := m["expect.unparsable_sources"]
		r.Met = met(r.Value == 0 && m["ingest.failed"] <= refused)
		r.Note = fmt.Sprintf("stored %d of %d distinct; %d sources not feeds", int(stored), int(e), int(refused))
	}
	rows = append(rows, r)

	// The 304 cycle, possibly in several feeds.yaml files.
	var wall, rss float64
	for i := range int(m["cycle.files"]) {
		wall += m[fmt.Sprintf("cycle.%d.wall_s", i)]
		rss = math.Max(rss, m[fmt.Sprintf("cycle.%d.maxrss_kb", i)])
	}
	r = row{Figure: "poll cycle, 10,000 sources on 1,000 hosts, all 304", Value: nan, Unit: "sources/s",
		Anchor: "req/s plain Go client", Goal: "≥ 2,000/s", Met: "-"}
	if wall > 0 && m["client.per_s"] > 0 {
		r.Value = m["client.requests"] / wall
		r.AnchorValue = m["client.per_s"]
		r.Ratio = r.Value / r.AnchorValue
		r.Met = met(r.Value >= 2000)
		r.Note = fmt.Sprintf("%d answered 304", int(m["cycle.not_modified"]))
		if f := m["cycle.files"]; f > 1 {
			r.Note += fmt.Sprintf("; %d feeds.yaml files run one after the other", int(f))
		}
	}
	rows = append(rows, r)
	r = row{Figure: "poll cycle: peak RSS", Value: nan, Unit: "MB", Anchor: "MB plain Go client", Goal: "< 150 MB", Met: "-"}
	if rss > 0 {
		r.Value, r.AnchorValue = rss/1024, m["client.maxrss_kb"]/1024
		r.Met = met(r.Value < 150)
	}
	rows = append(rows, r)

	for _, kind := range []string{"channel", "source"} {
		r = row{Figure: fmt.Sprintf("%d-item store: newest 50 of a %s, p99", int(m["store.big.items"]), kind), Value: nan, Unit: "ms",
			Anchor: fmt.Sprintf("ms at %d items", int(m["store.small.items"])), Goal: "< 2 ms, ≤ 2×", Met: "-"}
		big, ok1 := m.get("store.big." + kind + ".p99_ms")
		small, ok2 := m.get("store.small." + kind + ".p99_ms")
		if ok1 && ok2 && small > 0 {
			r.Value, r.AnchorValue, r.Ratio = big, small, big/small
			r.Met = met(big < 2 && big/small <= 2)
		}
		rows = append(rows, r)
	}
	r = row{Figure: "channel re-render after one new item (50 items, 3 formats)", Value: nan, Unit: "ms", Goal: "< 5 ms", Met: "-"}
	if ns, ok := m.get("render.ns_op"); ok {
		r.Value = ns / 1e6
		r.Met = met(r.Value < 5)
		r.Note = fmt.Sprintf("%d allocs, %d KB per render", int(m["render.allocs_op"]), int(m["render.bytes_op"]/1000))
	}
	rows = append(rows, r)
	r = row{Figure: fmt.Sprintf("peak RSS serving while polling %d sources", int(m["ingest.polled"])), Value: nan, Unit: "MB", Goal: "< 200 MB", Met: "-"}
	if kb, ok := m.get("serve.maxrss_kb"); ok && kb > 0 {
		r.Value = kb / 1024
		r.Met = met(r.Value < 200)
		r.Note = fmt.Sprintf("poll took %.1f s under load", m["serve.poll_s"])
	}
	rows = append(rows, r)
	return rows
}
