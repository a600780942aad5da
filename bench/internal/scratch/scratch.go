// Package scratch is what the measuring commands (bench/leases,
// bench/searchquality) share around their figures: a PostgreSQL schema of
// their own, made and dropped, and the machine's load average, printed
// beside every figure taken on a shared machine.
package scratch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Schema makes a schema of its own (aggbench_…) in the database at base
// and returns a URL whose connections use it, and its drop, which removes
// the schema and everything in it.
func Schema(ctx context.Context, base string) (string, func(), error) {
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, err
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "aggbench_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		admin.Close(ctx)
		return "", nil, err
	}
	drop := func() {
		_, _ = admin.Exec(ctx, "DROP SCHEMA "+name+" CASCADE")
		admin.Close(ctx)
	}
	pu, err := url.Parse(base)
	if err != nil {
		drop()
		return "", nil, err
	}
	q := pu.Query()
	q.Set("search_path", name)
	pu.RawQuery = q.Encode()
	return pu.String(), drop, nil
}

// LoadAvg returns the 1, 5 and 15 minute load averages, "?" when unknown.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
