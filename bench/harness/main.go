// Command harness holds the small tools bench/run drives: it times a child
// process and samples its memory, runs the anchors (gofeed parse-only, a
// plain Go HTTP client, a plain Go HTTP server), writes the search load,
// counts a store's items, and turns the collected metrics into the printed
// table and results.json. Every tool prints "key value" lines for the
// metrics file; report reads that file.
package main

import (
	"fmt"
	"os"
)

const usage = `Usage: harness TOOL [FLAGS]

Tools:
  exec    -name N -- CMD ARGS…   run CMD, print N.wall_s, N.maxrss_kb, N.exit
  parse   -sources N             gofeed parse-only over the origin's bytes
  client  -urls FILE             the same conditional GETs from a plain Go client
  count   -db PATH               items in an aggregator store
  static  -file F -addr A         the plain Go server: serve F and F.gz (an anchor)
  rss     -pid P -name N         sample P's memory until it ends or SIGTERM
  queries -corpus D -lua OUT     the search load: a wrk script of corpus words
  report  -metrics FILE -json OUT  print the table, write results.json
  port                           print a free port on 127.0.0.1
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	tools := map[string]func([]string) error{
		"exec": runExec, "parse": runParse, "client": runClient,
		"count": runCount, "report": runReport, "port": runPort,
		"static": runStatic, "rss": runRSS, "queries": runQueries,
	}
	tool, ok := tools[os.Args[1]]
	if !ok {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if err := tool(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "harness %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
