package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// printQueries prints every query with the size of its truth and, per
// method, how many it returned and how many of those are in the truth.
func printQueries(qs []query, truths []map[string]bool, methods []method, res [][]answer) {
	fmt.Println()
	fmt.Printf("%-4s %-6s %-28s %6s", "#", "kind", "query", "truth")
	for _, m := range methods {
		fmt.Printf(" %15s", m.name)
	}
	fmt.Println("   (per method: relevant found/returned)")
	for i, q := range qs {
		fmt.Printf("%-4d %-6s %s %6d", i+1, q.kind, pad(q.text, 28), len(truths[i]))
		for m := range methods {
			var s score
			s.add(truths[i], res[m][i].refs)
			fmt.Printf(" %15s", fmt.Sprintf("%d/%d", s.hits, s.got))
		}
		fmt.Println()
	}
}

// pad pads s with spaces to n columns, a Hangul syllable taking two.
func pad(s string, n int) string {
	w := 0
	for _, r := range s {
		w++
		if isHangul(r) {
			w++
		}
	}
	return s + strings.Repeat(" ", max(0, n-w))
}

// printGroup prints the scores of every method over the queries in.
func printGroup(name string, in func(query) bool, qs []query, truths, starts []map[string]bool, methods []method, res [][]answer) {
	n := 0
	for _, q := range qs {
		if in(q) {
			n++
		}
	}
	fmt.Printf("\n%s (%d): recall and precision against the substring truth (micro, macro), queries answered exactly, queries with a truth answered nothing; micro recall and precision against the word-start truth; latency of the full answer and of the page (total + 20)\n", name, n)
	fmt.Printf("%-12s %7s %7s %7s %7s %6s %6s %7s %7s %9s %9s %9s %9s\n",
		"method", "R", "P", "R mac", "P mac", "exact", "none", "R ws", "P ws", "all p50", "all p99", "page p50", "page p99")
	for m, me := range methods {
		var sub, ws score
		none := 0
		var all, page []time.Duration
		for i, q := range qs {
			if !in(q) {
				continue
			}
			a := res[m][i]
			sub.add(truths[i], a.refs)
			ws.add(starts[i], a.refs)
			if len(truths[i]) > 0 && len(a.refs) == 0 {
				none++
			}
			all = append(all, a.all)
			page = append(page, a.page)
		}
		fmt.Printf("%-12s %7s %7s %7s %7s %6d %6d %7s %7s %9s %9s %9s %9s\n", me.name,
			pct(sub.microRecall()), pct(sub.microPrecision()), pct(sub.macroRecall()), pct(sub.macroPrecision()),
			sub.exact, none, pct(ws.microRecall()), pct(ws.microPrecision()),
			quantile(all, 0.5), quantile(all, 0.99), quantile(page, 0.5), quantile(page, 0.99))
	}
}

func pct(f float64) string {
	if math.IsNaN(f) {
		return "-"
	}
	return fmt.Sprintf("%.3f", f)
}

// quantile is the q-quantile of ds (nearest rank), rounded for reading.
func quantile(ds []time.Duration, q float64) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(len(s)-1, int(math.Ceil(q*float64(len(s))))-1)
	d := s[max(0, i)]
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	default:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
}
