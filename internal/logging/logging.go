// Package logging owns the program's log lines: the slog handlers of the
// two formats (text for a person, one JSON object per line for a log
// collector) and the line that says where the server listens, written in
// the same format, so that with JSON logs every line the program writes is
// JSON.
//
// Durations are seconds in JSON (a number, as Prometheus and most log
// pipelines count time) and Go's duration text ("1.25s") in text lines.
//
// It only formats: what to log, and when, is its callers' business.
package logging

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
)

// Formats accepted by New.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// ErrFormat is returned by New for a format other than text or json.
var ErrFormat = errors.New("unknown log format")

// New returns a logger writing to w in format: FormatText (also "") or
// FormatJSON. Another format is an ErrFormat error naming it.
func New(w io.Writer, format string) (*slog.Logger, error) {
	h, err := handler(w, format)
	if err != nil {
		return nil, err
	}
	return slog.New(h), nil
}

func handler(w io.Writer, format string) (slog.Handler, error) {
	switch format {
	case "", FormatText:
		// The text handler already writes a time.Duration as its String.
		return slog.NewTextHandler(w, nil), nil
	case FormatJSON:
		return slog.NewJSONHandler(w, &slog.HandlerOptions{ReplaceAttr: seconds}), nil
	}
	return nil, fmt.Errorf("%w %q: want text or json", ErrFormat, format)
}

// seconds turns a duration into its seconds, a float: the JSON handler
// would write its nanoseconds as an integer.
func seconds(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.Float64Value(a.Value.Duration().Seconds())
	}
	return a
}

// Listening writes the line that says the server at url is ready, the one
// a supervisor or a test waits for, to w: "aggregator VERSION listening on
// URL" in text, a record with msg "listening" and the attributes url and
// version in JSON. An unknown format is written as text.
func Listening(w io.Writer, format, version, url string) {
	if format != FormatJSON {
		fmt.Fprintf(w, "aggregator %s listening on %s\n", version, url)
		return
	}
	slog.New(slog.NewJSONHandler(w, nil)).Info("listening", "url", url, "version", version)
}
