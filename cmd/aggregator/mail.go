package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/internal/app"
)

const mailUsage = `Usage: aggregator mail export [FLAGS] CHANNEL
       aggregator mail remove [FLAGS] ADDRESS

export prints the subscribers of CHANNEL's mailing list as CSV (address,
state, digest, created, confirmed, last_sent, sends, bounces), for staff
with access to the server. remove erases ADDRESS from every list and the
send log (a data-protection request) and prints the channels it was on.
When a running aggregator holds the database, both ask it through its
admin API (AGGREGATOR_ADMIN_TOKEN, -addr).

`

// runMail is "aggregator mail export|remove".
func runMail(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "export" && args[0] != "remove") {
		fmt.Fprint(stderr, mailUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
			return errHelp
		}
		return fmt.Errorf("%w: mail needs export CHANNEL or remove ADDRESS", errUsage)
	}
	sub, args := args[0], args[1:]
	var f flags
	fs := newFlagSet("mail "+sub, getenv, stderr, &f, true, false)
	fs.StringVar(&f.addr, "addr", getenv("AGGREGATOR_ADDR"), addrUsage)
	fs.Usage = func() {
		fmt.Fprint(stderr, mailUsage+"Flags (each defaults from the environment variable named):\n")
		fs.PrintDefaults()
	}
	var arg string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		arg, args = args[0], args[1:]
	}
	if err := parseFlagsArgs(fs, args); err != nil {
		return err
	}
	switch rest := fs.Args(); {
	case arg == "" && len(rest) == 1:
		arg = rest[0]
	case arg == "" && len(rest) == 0:
		fs.Usage()
		return fmt.Errorf("%w: mail %s needs an argument", errUsage, sub)
	case len(rest) > 0:
		return fmt.Errorf("%w: unexpected argument %q", errUsage, rest[0])
	}
	cfg, err := loadConfig(f)
	if err != nil {
		return err
	}
	db, err := openStore(cfg, sub == "export")
	var r *remote
	if err != nil {
		if r, err = reach(cfg, getenv, err); err != nil {
			return err
		}
	} else {
		defer db.Close()
	}
	switch sub {
	case "export":
		var rows []app.ListRow
		if r != nil {
			err = r.call(ctx, "GET", "/admin/mail/export", url.Values{"channel": {arg}}, nil, &rows)
		} else {
			rows, err = app.ExportList(ctx, db, arg)
		}
		if err != nil {
			return err
		}
		return writeListCSV(stdout, rows)
	default:
		var chans []string
		if r != nil {
			err = r.call(ctx, "POST", "/admin/mail/remove", url.Values{"address": {arg}}, nil, &chans)
		} else {
			chans, err = app.EraseAddress(ctx, db, arg)
		}
		if err != nil {
			return err
		}
		if len(chans) == 0 {
			fmt.Fprintln(stdout, "the address is on no list")
			return nil
		}
		fmt.Fprintf(stdout, "removed from %d lists: %s\n", len(chans), strings.Join(chans, ", "))
		return nil
	}
}

func writeListCSV(w io.Writer, rows []app.ListRow) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"address", "state", "digest", "created", "confirmed", "last_sent", "sends", "bounces"})
	at := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, r := range rows {
		cw.Write([]string{r.Address, r.State, r.Digest, at(r.Created), at(r.Confirmed), at(r.LastSent),
			strconv.Itoa(r.Sends), strconv.Itoa(r.Bounces)})
	}
	cw.Flush()
	return cw.Error()
}
