package config

import (
	"fmt"
	"slices"
	"strings"
)

// fileFacts is what Parse saw of a file beyond the Config it yields.
type fileFacts struct {
	name           string
	empty          bool // no YAML document: nothing but white space and comments
	sourcesListed  bool // "sources" given a list, even an empty one
	channelsListed bool
	endsLine       bool // the last line has its newline (or the file is empty)
	lines          int
}

// CheckReload returns the problems that make c, as parsed from its file,
// unfit to replace running while the service runs, joined as Parse joins
// its own (see Problems); nil when there are none. An editor saving or a
// full disk can leave feeds.yaml empty or cut short for a moment, and
// applying that would unpublish every channel. Refused are:
//
//   - a file of nothing but white space and comments, while running has
//     sources or channels;
//   - a file without sources (the key missing or null) while running has
//     some, unless it says "sources: []"; the same for channels;
//   - a file whose last line has no newline when it would remove sources
//     or channels: the mark of a write cut short.
//
// A file cut at the end of a line passes when what is left is valid and
// keeps some sources and channels: it cannot be told from an edit that
// removed the entries after that line. Cuts elsewhere usually fail Parse
// (an unclosed [ or {, a source without its url, a channel naming a source
// that is gone) or the last rule.
func (c Config) CheckReload(running Config) error {
	f := c.file
	var probs []*Problem
	add := func(line int, path, msg string, args ...any) {
		probs = append(probs, &Problem{File: f.name, Line: line, Path: path, Msg: fmt.Sprintf(msg, args...)})
	}
	switch {
	case f.empty && (len(running.Sources) > 0 || len(running.Channels) > 0):
		add(0, "", `the file is empty (nothing but white space and comments): refusing to unpublish every channel; to remove everything, write "sources: []" and "channels: []"`)
		return join(probs)
	case f.empty:
		return nil
	}
	if len(c.Sources) == 0 && len(running.Sources) > 0 && !f.sourcesListed {
		add(0, "sources", `missing, while the running config has %s: refusing to remove them all; write "sources: []" to mean it`, plural(len(running.Sources), "source"))
	}
	if len(c.Channels) == 0 && len(running.Channels) > 0 && !f.channelsListed {
		add(0, "channels", `missing, while the running config has %s: refusing to unpublish them all; write "channels: []" to mean it`, plural(len(running.Channels), "channel"))
	}
	if !f.endsLine {
		gone := removed(running, c)
		if len(gone) > 0 {
			add(f.lines, "", "the last line has no newline and the file would remove %s: it looks cut short (a save that did not finish); end the file with a newline to apply it", strings.Join(gone, " and "))
		}
	}
	return join(probs)
}

// removed names the sources and channels of running that next lacks, the
// first few of each: "sources a, b, c, d, e and 3 more", "channels f".
func removed(running, next Config) []string {
	var out []string
	for _, k := range []struct {
		kind     string
		old, now []string
	}{
		{"sources", sourceIDs(running), sourceIDs(next)},
		{"channels", channelIDs(running), channelIDs(next)},
	} {
		var gone []string
		for _, id := range k.old {
			if !slices.Contains(k.now, id) {
				gone = append(gone, id)
			}
		}
		if len(gone) == 0 {
			continue
		}
		s := k.kind + " " + strings.Join(gone[:min(len(gone), 5)], ", ")
		if len(gone) > 5 {
			s += fmt.Sprintf(" and %d more", len(gone)-5)
		}
		out = append(out, s)
	}
	return out
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func sourceIDs(c Config) []string {
	ids := make([]string, len(c.Sources))
	for i, s := range c.Sources {
		ids[i] = s.ID
	}
	return ids
}

func channelIDs(c Config) []string {
	ids := make([]string, len(c.Channels))
	for i, ch := range c.Channels {
		ids[i] = ch.ID
	}
	return ids
}
