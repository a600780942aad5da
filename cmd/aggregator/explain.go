package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/story"
)

// reason is one thing explain says about why an item is shown as it is:
// Kind names the rule ("merged", "identity", "rekey"; curation adds its
// own), Text says it for staff.
type reason struct {
	Kind string
	Text string
}

// explanation is what explain prints for one matched copy of a story.
type explanation struct {
	found    store.Found
	policy   string   // the identity policy of the story's source in the config
	channels []string // ids of the channels that show the story
	reasons  []reason
}

// runExplain prints, for each stored story ITEM names (an item URL, an
// upstream id, or SOURCE/KEY), the story, its identity rule and key,
// every origin with the rule that merged it and when, and the reasons
// that apply to it, as a list.
func runExplain(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var f flags
	fs := newFlagSet("explain", getenv, stderr, &f, true, false)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: aggregator explain [FLAGS] ITEM\n\n"+
			"ITEM is an item's URL, its upstream id (RSS guid, Atom id), or SOURCE/KEY as explain prints it.\n\n"+
			"Flags (each defaults from the environment variable named):\n")
		fs.PrintDefaults()
	}
	// ITEM may come before or after the flags.
	var item string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		item, args = args[0], args[1:]
	}
	if err := parseFlagsArgs(fs, args); err != nil {
		return err
	}
	switch rest := fs.Args(); {
	case item == "" && len(rest) == 1:
		item = rest[0]
	case item == "" && len(rest) == 0:
		fs.Usage()
		return fmt.Errorf("%w: explain needs an ITEM", errUsage)
	case len(rest) > 0:
		return fmt.Errorf("%w: unexpected argument %q", errUsage, rest[0])
	}
	cfg, err := loadConfig(f)
	if err != nil {
		return err
	}
	db, err := openStore(cfg, false)
	if err != nil {
		return err
	}
	defer db.Close()

	found, err := db.Locate(ctx, item)
	if err != nil {
		if feed.ErrorCode(err) == feed.ENOTFOUND || feed.ErrorCode(err) == feed.EINVALID {
			fmt.Fprintln(stderr, feed.ErrorMessage(err))
			return fmt.Errorf("%w: %s", errReported, feed.ErrorMessage(err))
		}
		return err
	}
	for i, fd := range found {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		e := explain(cfg, fd)
		if st, err := db.State(ctx, fd.SourceID); err == nil && st.Warning != "" {
			e.reasons = append(e.reasons, reason{"warning", fmt.Sprintf("the last poll of %s warned: %s", fd.SourceID, st.Warning)})
		}
		writeExplanation(stdout, e)
	}
	return nil
}

// explain gathers what there is to say about one match.
func explain(cfg config.Config, fd store.Found) explanation {
	e := explanation{found: fd, policy: feed.IdentityAuto}
	s := fd.Story
	if src, ok := cfg.Source(s.SourceID); ok && src.Identity != "" {
		e.policy = src.Identity
	}
	carriers := []string{s.SourceID}
	for _, o := range s.Origins {
		carriers = append(carriers, o.SourceID)
	}
	for _, ch := range cfg.Channels {
		for _, id := range carriers {
			if src, ok := cfg.Source(id); ok && ch.Selects(src) {
				e.channels = append(e.channels, ch.ID)
				break
			}
		}
	}

	e.reasons = append(e.reasons, reason{"identity", identityText(s.Key, e.policy)})
	if a := fd.Alias; a != nil && a.Rule == story.RuleRekey {
		e.reasons = append(e.reasons, reason{"rekey", fmt.Sprintf(
			"%s/%s is the key %s gave this item later (a new GUID, or a poll identified by link); "+
				"same canonical link and title, so it was recognised on %s as the item stored under %s",
			fd.SourceID, fd.Key, fd.SourceID, stamp(a.Seen), a.Key)})
	}
	if len(s.Origins) > 0 {
		var others []string
		for _, o := range s.Origins {
			others = append(others, o.SourceID)
		}
		e.reasons = append(e.reasons, reason{"merged", fmt.Sprintf(
			"carried by %d sources and stored once: published under %s (its first origin, atom:source / RSS <source>), "+
				"with via links to %s", len(s.Origins)+1, s.SourceID, strings.Join(others, ", "))})
	}
	return e
}

// identityText says which identity rule made key under policy.
func identityText(key, policy string) string {
	rule := map[string]string{
		"id":   "the upstream GUID/id",
		"link": "the canonical link (no tracking parameters; http and https alike)",
		"hash": "a hash of title and content (the item had no GUID or link)",
	}[feed.KeyRule(key)]
	if rule == "" {
		rule = "an unrecognised key"
	}
	return fmt.Sprintf("identified by %s, under the source's identity policy %q", rule, policy)
}

// ruleText says what a merge rule means.
func ruleText(o feed.Origin) string {
	switch o.Rule {
	case story.RuleLink:
		return "merged by link: the same canonical link (" + feed.LinkKey(o.Link) + ")"
	case story.RuleTitle:
		return "merged by title: the same title once case, punctuation, spacing and width are folded, within dedupe.title_window"
	}
	return "merged by rule " + o.Rule
}

func writeExplanation(w io.Writer, e explanation) {
	fd, s := e.found, e.found.Story
	how := map[string]string{"key": "by key", "id": "by upstream id", "link": "by link"}[fd.Match]
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "matched\t%s, as %s/%s\n", how, fd.SourceID, fd.Key)
	fmt.Fprintf(tw, "story\t%s/%s\n", s.SourceID, s.Key)
	fmt.Fprintf(tw, "title\t%s\n", s.Title)
	if s.Link != "" {
		fmt.Fprintf(tw, "link\t%s\n", s.Link)
	}
	if s.ID != "" {
		fmt.Fprintf(tw, "upstream id\t%s\n", s.ID)
	}
	published := stamp(s.Published)
	if !s.Dated {
		published += " (undated: when first seen)"
	}
	fmt.Fprintf(tw, "published\t%s\n", published)
	fmt.Fprintf(tw, "first seen\t%s\n", stamp(s.FirstSeen))
	fmt.Fprintf(tw, "updated\t%s\n", stamp(s.Updated))
	channels := strings.Join(e.channels, ", ")
	if channels == "" {
		channels = "(none)"
	}
	fmt.Fprintf(tw, "channels\t%s\n", channels)
	tw.Flush()

	fmt.Fprintln(w, "origins:")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  1. %s\t%s\t%s\tfirst origin: stored and published under it\n", s.SourceID, s.Key, stamp(s.FirstSeen))
	for i, o := range s.Origins {
		fmt.Fprintf(tw, "  %d. %s\t%s\t%s\t%s\n", i+2, o.SourceID, o.Key, stamp(o.Seen), ruleText(o))
	}
	tw.Flush()

	fmt.Fprintln(w, "reasons:")
	for _, r := range e.reasons {
		fmt.Fprintf(w, "  - %s: %s\n", r.Kind, r.Text)
	}
}

// stamp formats a time for explain: RFC 3339 in UTC, "-" for none.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
