// Command searchquality measures the answers of search (issue 13): the
// aggregator's bleve index (internal/search, as serve builds it) against
// PostgreSQL's full text search and pg_trgm, over the same items: every
// feed of $AGGREGATOR_CORPUS/real stored as internal/search's
// TestCorpusSearch stores it, each file its own source.
//
// The queries are fixed and printed: the test's 200 corpus queries (the
// same seed: words of titles, a third of them the first two syllables of a
// Korean word), -pairs two-word queries from titles (another seed) and a
// hand list of policy queries (queries.go). The ground truth of a query is
// every item whose folded text (title and text, as bleve indexes them;
// NFKC and case folding) contains every query word as a substring
// (truth.go): "북한" finds "북한의". A second truth counts only words
// that start where a word starts. Each method is scored against both:
// recall and precision, micro and macro averaged, Korean queries apart
// from the others, with the latency (p50, p99) of the full answer and of
// the search page's (the total and the first 20), and the index sizes.
//
// PostgreSQL gets a scratch schema in -db, made and dropped. Methods:
//
//	bleve         internal/search.Index.Search
//	pg simple     tsv @@ plainto_tsquery('simple', q), tsv a stored to_tsvector('simple', text), GIN
//	pg prefix     tsv @@ to_tsquery('simple', 'w1:* & w2:*'): each word a prefix
//	pg english    the same with the english configuration (stemming)
//	pg trigram    text ILIKE '%w1%' AND text ILIKE '%w2%', GIN gin_trgm_ops
//
// It is a measurement, not a test: run it by hand (bench/RESULTS.md says
// how) and read the load it prints.
package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"

	"github.com/kpolicy/aggregator/bench/internal/scratch"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/parse"
	"github.com/kpolicy/aggregator/internal/search"
	"github.com/kpolicy/aggregator/internal/store/bolt"
)

var nan = math.NaN()

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "searchquality:", err)
		os.Exit(1)
	}
}

func run() error {
	db := flag.String("db", os.Getenv("AGGREGATOR_TEST_POSTGRES"), "PostgreSQL URL (a schema is made in it and dropped)")
	corpus := flag.String("corpus", os.Getenv("AGGREGATOR_CORPUS"), "the corpus directory (its real/ is read)")
	pairs := flag.Int("pairs", 30, "two-word queries from titles")
	perQuery := flag.Bool("queries", true, "print every query with its truth and each method's answer counts")
	copies := flag.Int("copies", 1, "index the corpus this many times over, each copy under other sources (for latency and size; the query set is the first copy's)")
	flag.Parse()
	if *db == "" || *corpus == "" {
		return fmt.Errorf("-db (or AGGREGATOR_TEST_POSTGRES) and -corpus (or AGGREGATOR_CORPUS) are required")
	}
	ctx := context.Background()
	fmt.Printf("load average at start: %s\n", scratch.LoadAvg())

	tmp, err := os.MkdirTemp("", "aggbench-searchquality-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	items, storeSize, err := load(ctx, *corpus, filepath.Join(tmp, "a.db"))
	if err != nil {
		return err
	}
	qs := queries(items, *pairs)
	if len(qs) == 0 {
		return fmt.Errorf("the corpus gave no query words")
	}
	items = copyItems(items, *copies)
	docs := make([]document, len(items))
	for i, it := range items {
		docs[i] = document{ref: it.Ref(), published: it.Sort().UTC(), text: docText(it)}
		docs[i].folded = fold(docs[i].text)
	}
	fmt.Printf("%d items (%d× the corpus, whose bbolt store is %d KiB), %d queries\n", len(items), *copies, storeSize>>10, len(qs))

	var methods []method
	bl, err := newBleve(filepath.Join(tmp, "idx"), items)
	if err != nil {
		return err
	}
	defer bl.close()
	methods = append(methods, bl.methods()...)
	pg, err := newPostgres(ctx, *db, docs)
	if err != nil {
		return err
	}
	defer pg.close()
	fmt.Println(pg.features)
	if err := pg.explain(ctx, "북한", "미사일", "Seoul"); err != nil {
		return err
	}
	methods = append(methods, pg.methods()...)

	truths := make([]map[string]bool, len(qs))
	starts := make([]map[string]bool, len(qs))
	for i, q := range qs {
		truths[i], starts[i] = truth(docs, queryWords(q.text))
	}
	res := make([][]answer, len(methods))
	for m, me := range methods {
		for _, q := range qs {
			a, err := ask(ctx, me, q.text)
			if err != nil {
				return fmt.Errorf("%s %q: %w", me.name, q.text, err)
			}
			res[m] = append(res[m], a)
		}
	}
	if *perQuery {
		printQueries(qs, truths, methods, res)
	}
	fmt.Println()
	for _, g := range []struct {
		name string
		in   func(query) bool
	}{
		{"all queries", func(query) bool { return true }},
		{"Korean queries", func(q query) bool { return korean(q.text) }},
		{"other queries", func(q query) bool { return !korean(q.text) }},
		{"hand list", func(q query) bool { return q.kind == "hand" }},
	} {
		printGroup(g.name, g.in, qs, truths, starts, methods, res)
	}
	midWords(docs, qs)
	fmt.Println()
	fmt.Printf("%-12s %12s  %s\n", "method", "index KiB", "what")
	fmt.Printf("%-12s %12d  %s\n", "bleve", bl.size>>10, "the index directory (scorch), after one batch of every item")
	for _, s := range pg.sizes {
		fmt.Printf("%-12s %12d  %s\n", s.name, s.bytes>>10, s.what)
	}
	fmt.Printf("load average at end: %s\n", scratch.LoadAvg())
	return nil
}

// copyItems returns items n times over, each copy after the first under
// other source ids ("c1-s001"), so other refs.
func copyItems(items []feed.Item, n int) []feed.Item {
	out := slices.Clone(items)
	for c := 1; c < n; c++ {
		for _, it := range items {
			it.SourceID = fmt.Sprintf("c%d-%s", c, it.SourceID)
			out = append(out, it)
		}
	}
	return out
}

// document is an item as the methods search it.
type document struct {
	ref       string
	published time.Time
	text      string // title and text, as internal/search indexes them
	folded    string // fold(text), for the truth
}

// docText is the text internal/search indexes of an item (its fill):
// the title, the summary's text and the content's when it differs.
func docText(it feed.Item) string {
	body := search.Text(it.Summary)
	if c := search.Text(it.Content); c != "" && c != body {
		body += "\n" + c
	}
	return it.Title + "\n" + body
}

// truth returns the refs of the documents that contain every word, and of
// those where every word starts a word.
func truth(docs []document, words []string) (sub, start map[string]bool) {
	sub, start = map[string]bool{}, map[string]bool{}
	for _, d := range docs {
		if matches(d.folded, words, false) {
			sub[d.ref] = true
			if matches(d.folded, words, true) {
				start[d.ref] = true
			}
		}
	}
	return sub, start
}

// load stores every feed of corpus/real in a bbolt store at path, as
// internal/search's corpusItems does, and returns the items in write
// order and the file's size.
func load(ctx context.Context, corpus, path string) ([]feed.Item, int64, error) {
	db, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		return nil, 0, err
	}
	defer db.Close()
	p := parse.New()
	sources := 0
	err = filepath.WalkDir(filepath.Join(corpus, "real"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		body, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sources++
		id := fmt.Sprintf("s%03d", sources)
		parsed, err := p.Parse(body, "", "https://corpus.example/"+d.Name(), id)
		if err != nil || len(parsed.Items) == 0 {
			return nil // not every corpus file is a feed with items
		}
		_, err = db.SavePoll(ctx, id, parsed.Items, feed.SourceState{SourceID: id})
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	items, err := db.ItemsSince(ctx, 0, 1<<30)
	if err != nil {
		return nil, 0, err
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, 0, err
	}
	return items, info.Size(), nil
}

// A method answers a query twice: every match (for recall and precision)
// and the search page's work (the total and the first 20 in the page's
// order).
type method struct {
	name string
	all  func(ctx context.Context, q string) ([]string, error)
	page func(ctx context.Context, q string) (total int, err error)
}

type answer struct {
	refs     []string
	all      time.Duration
	page     time.Duration
	pageSeen int // the page's total, which must be len(refs)
}

func ask(ctx context.Context, m method, q string) (answer, error) {
	var a answer
	start := time.Now()
	refs, err := m.all(ctx, q)
	a.all = time.Since(start)
	if err != nil {
		return a, err
	}
	a.refs = refs
	start = time.Now()
	n, err := m.page(ctx, q)
	a.page = time.Since(start)
	if err != nil {
		return a, err
	}
	if n != len(refs) {
		return a, fmt.Errorf("the page's total is %d, the full answer %d", n, len(refs))
	}
	return a, nil
}

// bleveIndex is internal/search's index of the items.
type bleveIndex struct {
	ix   *search.Index
	size int64
}

func newBleve(dir string, items []feed.Item) (*bleveIndex, error) {
	ix, err := search.Open(dir)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := ix.Add(items, func(feed.Item) ([]string, error) { return []string{"all"}, nil }); err != nil {
		ix.Close()
		return nil, err
	}
	fmt.Printf("bleve: indexed %d items in %v\n", len(items), time.Since(start).Round(time.Millisecond))
	size, err := dirSize(dir)
	if err != nil {
		ix.Close()
		return nil, err
	}
	return &bleveIndex{ix: ix, size: size}, nil
}

func (b *bleveIndex) close() { b.ix.Close() }

func (b *bleveIndex) methods() []method {
	return []method{{
		name: "bleve",
		all: func(ctx context.Context, q string) ([]string, error) {
			const limit = 1 << 20
			res, err := b.ix.Search(ctx, search.Query{Text: q, Limit: limit})
			if err != nil {
				return nil, err
			}
			var refs []string
			for _, h := range res.Hits {
				refs = append(refs, h.Ref)
			}
			if res.Total != uint64(len(refs)) {
				return nil, fmt.Errorf("bleve: %d hits of %d", len(refs), res.Total)
			}
			return refs, nil
		},
		page: func(ctx context.Context, q string) (int, error) {
			res, err := b.ix.Search(ctx, search.Query{Text: q, Limit: 20})
			return int(res.Total), err
		},
	}}
}

// pgIndex is the items in a scratch schema of PostgreSQL.
type pgIndex struct {
	conn     *pgx.Conn
	drop     func()
	features string
	sizes    []sized
}

type sized struct {
	name  string
	bytes int64
	what  string
}

func newPostgres(ctx context.Context, base string, docs []document) (*pgIndex, error) {
	u, drop, err := scratch.Schema(ctx, base)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		drop()
		return nil, err
	}
	p := &pgIndex{conn: conn, drop: drop}
	if err := p.setup(ctx, docs); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func (p *pgIndex) close() {
	p.conn.Close(context.Background())
	p.drop()
}

func (p *pgIndex) setup(ctx context.Context, docs []document) error {
	var version, ctype string
	if err := p.conn.QueryRow(ctx, "SELECT current_setting('server_version'), current_setting('lc_ctype')").Scan(&version, &ctype); err != nil {
		return err
	}
	configs, err := firstColumn(ctx, p.conn, "SELECT cfgname FROM pg_ts_config ORDER BY cfgname")
	if err != nil {
		return err
	}
	exts, err := firstColumn(ctx, p.conn, "SELECT name FROM pg_available_extensions ORDER BY name")
	if err != nil {
		return err
	}
	trgm := slices.Contains(exts, "pg_trgm")
	p.features = fmt.Sprintf("PostgreSQL %s, lc_ctype %s; text search configurations: %s (none for Korean); extensions available: %s",
		version, ctype, strings.Join(configs, " "), strings.Join(exts, " "))
	if !trgm {
		return fmt.Errorf("pg_trgm is not available: %s", p.features)
	}
	// The extension goes into the scratch schema (dropped with it), unless
	// the database has it already.
	if _, err := p.conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA "+pgx.Identifier{p.conn.Config().RuntimeParams["search_path"]}.Sanitize()); err != nil {
		return err
	}
	var trgmSchema string
	if err := p.conn.QueryRow(ctx, "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'").Scan(&trgmSchema); err != nil {
		return err
	}
	if _, err := p.conn.Exec(ctx, `CREATE TABLE items (
		ref text PRIMARY KEY,
		published timestamptz NOT NULL,
		body text NOT NULL,
		tsv_simple tsvector GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED,
		tsv_english tsvector GENERATED ALWAYS AS (to_tsvector('english', body)) STORED)`); err != nil {
		return err
	}
	start := time.Now()
	n, err := p.conn.CopyFrom(ctx, pgx.Identifier{"items"}, []string{"ref", "published", "body"},
		pgx.CopyFromSlice(len(docs), func(i int) ([]any, error) {
			return []any{docs[i].ref, docs[i].published, docs[i].text}, nil
		}))
	if err != nil {
		return err
	}
	fmt.Printf("postgres: copied %d rows (both tsvectors computed) in %v\n", n, time.Since(start).Round(time.Millisecond))
	for _, ix := range []struct{ name, sql string }{
		{"items_simple", "CREATE INDEX items_simple ON items USING gin (tsv_simple)"},
		{"items_english", "CREATE INDEX items_english ON items USING gin (tsv_english)"},
		{"items_trgm", "CREATE INDEX items_trgm ON items USING gin (body " + pgx.Identifier{trgmSchema, "gin_trgm_ops"}.Sanitize() + ")"},
	} {
		start := time.Now()
		if _, err := p.conn.Exec(ctx, ix.sql); err != nil {
			return err
		}
		fmt.Printf("postgres: %s built in %v\n", ix.name, time.Since(start).Round(time.Millisecond))
	}
	if _, err := p.conn.Exec(ctx, "VACUUM ANALYZE items"); err != nil {
		return err
	}
	for _, s := range []struct{ name, sql, what string }{
		{"pg simple", "SELECT pg_relation_size('items_simple') + (SELECT sum(pg_column_size(tsv_simple)) FROM items)", "GIN index + the stored tsvector column"},
		{"pg english", "SELECT pg_relation_size('items_english') + (SELECT sum(pg_column_size(tsv_english)) FROM items)", "GIN index + the stored tsvector column"},
		{"pg trigram", "SELECT pg_relation_size('items_trgm')", "GIN gin_trgm_ops index (on the text itself)"},
		{"pg text", "SELECT sum(pg_column_size(body)) FROM items", "the text column (compressed as stored), which only the trigram method needs beside the store"},
		{"pg table", "SELECT pg_total_relation_size('items')", "everything: table, TOAST, the three indexes and the primary key"},
	} {
		var n int64
		if err := p.conn.QueryRow(ctx, s.sql).Scan(&n); err != nil {
			return err
		}
		p.sizes = append(p.sizes, sized{s.name, n, s.what})
	}
	return nil
}

// explain prints the plan and time of the trigram method for each query.
func (p *pgIndex) explain(ctx context.Context, qs ...string) error {
	for _, q := range qs {
		var where []string
		var args []any
		for _, w := range lowerWords(q) {
			args = append(args, "%"+w+"%")
			where = append(where, fmt.Sprintf("body ILIKE $%d", len(args)))
		}
		rows, err := p.conn.Query(ctx, "EXPLAIN (ANALYZE, COSTS OFF) SELECT ref FROM items WHERE "+strings.Join(where, " AND "), args...)
		if err != nil {
			return err
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		fmt.Printf("pg trigram %q:\n  %s\n", q, strings.Join(lines, "\n  "))
	}
	return nil
}

// firstColumn returns the first column of every row of sql.
func firstColumn(ctx context.Context, conn *pgx.Conn, sql string) ([]string, error) {
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func (p *pgIndex) methods() []method {
	ts := func(name, col, tsq string, args func(string) []any) method {
		return p.method(name, "ts_rank("+col+", "+tsq+") DESC", func(q string) (string, []any) {
			if len(lowerWords(q)) == 0 {
				return "", nil
			}
			return col + " @@ " + tsq, args(q)
		})
	}
	plain := func(cfg string) func(string) []any { return func(q string) []any { return []any{cfg, q} } }
	return []method{
		ts("pg simple", "tsv_simple", "plainto_tsquery($1::regconfig, $2)", plain("simple")),
		ts("pg prefix", "tsv_simple", "to_tsquery('simple', $1)", func(q string) []any { return []any{prefixQuery(q)} }),
		ts("pg english", "tsv_english", "plainto_tsquery($1::regconfig, $2)", plain("english")),
		// ILIKE has no rank: its page is the newest 20.
		p.method("pg trigram", "published DESC", func(q string) (string, []any) {
			var where []string
			var args []any
			for _, w := range lowerWords(q) {
				args = append(args, "%"+w+"%")
				where = append(where, fmt.Sprintf("body ILIKE $%d", len(args)))
			}
			return strings.Join(where, " AND "), args
		}),
	}
}

// method is a PostgreSQL method: build gives a query's condition and its
// parameters ("" for a query without words, which matches nothing), order
// the page's order.
func (p *pgIndex) method(name, order string, build func(q string) (string, []any)) method {
	return method{
		name: name,
		all: func(ctx context.Context, q string) ([]string, error) {
			where, args := build(q)
			if where == "" {
				return nil, nil
			}
			rows, err := p.conn.Query(ctx, "SELECT ref FROM items WHERE "+where, args...)
			if err != nil {
				return nil, err
			}
			return pgx.CollectRows(rows, pgx.RowTo[string])
		},
		page: func(ctx context.Context, q string) (int, error) {
			where, args := build(q)
			if where == "" {
				return 0, nil
			}
			rows, err := p.conn.Query(ctx, "SELECT ref, count(*) OVER () FROM items WHERE "+where+" ORDER BY "+order+" LIMIT 20", args...)
			if err != nil {
				return 0, err
			}
			total := 0
			for rows.Next() {
				var ref string
				if err := rows.Scan(&ref, &total); err != nil {
					return 0, err
				}
			}
			return total, rows.Err()
		},
	}
}

// lowerWords is the query's words as a PostgreSQL search would take them:
// lower case, runs of letters and digits (no LIKE or tsquery syntax left).
func lowerWords(q string) []string {
	return strings.FieldsFunc(strings.ToLower(q), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
}

// prefixQuery is the tsquery of every word as a prefix: 'w1':* & 'w2':*.
func prefixQuery(q string) string {
	var parts []string
	for _, w := range lowerWords(q) {
		parts = append(parts, "'"+w+"':*")
	}
	return strings.Join(parts, " & ")
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	return n, err
}
