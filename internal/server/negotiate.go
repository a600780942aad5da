package server

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// acceptsGzip reports whether the gzip representation should answer r; see
// gzipAccepted.
func acceptsGzip(r *http.Request) bool {
	return gzipAccepted(r.Header["Accept-Encoding"])
}

// gzipAccepted chooses between the two representations the server has,
// identity and gzip, from the Accept-Encoding field lines per RFC 9110
// §12.5.3: each coding's qvalue is its own entry's ("x-gzip" is gzip), else
// that of "*", which covers only the codings not named; identity is
// acceptable (q=1) unless refused by its own entry or by "*". The higher
// qvalue wins, a tie goes to gzip (the smaller), and when neither is
// acceptable the answer is identity. No field, or an empty one, is
// identity: a client that says nothing may not read gzip. An element with
// an invalid qvalue is ignored; unknown codings and parameters are too.
func gzipAccepted(fields []string) bool {
	gz, id, star := -1, -1, -1 // thousandths; -1: not named
	for _, field := range fields {
		for field != "" {
			var elem string
			elem, field, _ = strings.Cut(field, ",")
			coding, params, _ := strings.Cut(elem, ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			if coding == "" {
				continue
			}
			q, ok := qvalue(params)
			if !ok {
				continue
			}
			switch coding {
			case "gzip", "x-gzip":
				gz = max(gz, q)
			case "identity":
				id = max(id, q)
			case "*":
				star = max(star, q)
			}
		}
	}
	if gz < 0 {
		gz = max(star, 0)
	}
	if id < 0 {
		id = 1000
		if star >= 0 {
			id = star
		}
	}
	return gz > 0 && gz >= id
}

// qvalue reads the weight among an element's parameters (";q=0.5;x=y") in
// thousandths: 1000 when absent, ok false when malformed (RFC 9110 §12.4.2:
// "0" to "1" with at most three decimals).
func qvalue(params string) (int, bool) {
	q := 1000
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		name, value, _ := strings.Cut(p, "=")
		if !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		value = strings.TrimSpace(value)
		whole, frac, _ := strings.Cut(value, ".")
		if (whole != "0" && whole != "1") || len(frac) > 3 || strings.Trim(frac, "0123456789") != "" {
			return 0, false
		}
		n, _ := strconv.Atoi(whole + (frac + "000")[:3])
		if n > 1000 {
			return 0, false
		}
		q = n
	}
	return q, true
}

// serveBytes answers r with body, known whole and in memory: 200 with
// Content-Length and the body in one Write, HEAD the same headers without
// it, 304 for a current If-None-Match or If-Modified-Since; the handler
// has set Content-Type, ETag and Content-Encoding. It follows
// http.ServeContent's rules (RFC 9110 §13.2.2), and hands it the rare
// request that needs more of them (Range, If-Match, If-Unmodified-Since),
// after dropping a Range of more than one range: RFC 9110 §14.2 lets a
// server ignore Range, and a multipart reply of many small or overlapping
// parts can be larger than the document itself; the client then gets the
// whole document, 200.
//
// http.ServeContent alone cost the feeds a third of their throughput:
// it drops Content-Length when Content-Encoding is set (the gzip reply
// went out chunked), and copies the body through a 32 KB buffer it
// allocates when the writer is wrapped (bench/RESULTS.md).
func serveBytes(w http.ResponseWriter, r *http.Request, modtime time.Time, body []byte) {
	rh := r.Header
	if rh["Range"] != nil || rh["If-Match"] != nil || rh["If-Unmodified-Since"] != nil {
		if rng := rh.Get("Range"); strings.Contains(rng, ",") || len(rh.Values("Range")) > 1 {
			r = r.Clone(r.Context())
			r.Header.Del("Range")
		}
		http.ServeContent(w, r, "", modtime, bytes.NewReader(body))
		return
	}
	h := w.Header()
	if !modtime.IsZero() {
		h["Last-Modified"] = lastModified.text(modtime)
	}
	if notModifiedSince(r, h, modtime) {
		notModified(w)
		return
	}
	h["Accept-Ranges"] = acceptRanges
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if c := connOf(r); c != nil {
		// A reply past net/http's 4 KB buffer: its head and the body's
		// start in one system call with the rest (conn.holdNext); a
		// smaller one is written whole when the handler returns.
		c.holdNext()
		w.Write(body)
		c.sendHeld()
		return
	}
	w.Write(body)
}

// notModified answers 304 with what RFC 9110 §15.4.5 lists for it
// (Cache-Control, ETag, Vary; net/http adds Date) and nothing else:
// representation metadata, Link and the security headers stay with the
// 200 a cache stored (it keeps the stored fields a 304 does not carry,
// RFC 9111 §4.3.4), and a poller's 304 is fewer bytes to write. The
// date goes too, as http.ServeContent drops it when a tag says it all,
// unless there is no tag.
//
// The fields kept are read out and put back after a clear: walking the
// map and deleting the rest was half of a 304's handling
// (BenchmarkFeedHandler/atom-304).
func notModified(w http.ResponseWriter) {
	h := w.Header()
	var keep [len(keptOn304)][]string
	for i, k := range keptOn304 {
		keep[i] = h[k]
	}
	tagged := len(h["Etag"]) > 0
	clear(h)
	for i, k := range keptOn304 {
		if keep[i] != nil && !(tagged && k == "Last-Modified") {
			h[k] = keep[i]
		}
	}
	w.WriteHeader(http.StatusNotModified)
}

// keptOn304 are the fields a 304 carries over (notModified), in canonical
// form; Last-Modified only without an ETag.
var keptOn304 = [...]string{"Cache-Control", "Etag", "Vary", "Date", "Expires", "Content-Location", "Last-Modified"}

// first is h's first value of key, which must be in canonical form (as
// Header.Get, without canonicalising key at every call).
func first(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// lastModified remembers the HTTP dates it formatted last, one a slot
// by Unix second: a document's date stays the same for every request
// until it is rendered again, and formatting it was a tenth of a 200's
// handling (BenchmarkFeedHandler).
var lastModified dateTexts

type dateTexts [16]atomic.Pointer[dateText]

type dateText struct {
	unix  int64
	value []string // shared as the values below are
}

// text is t as the value of a date header field, to the second.
func (d *dateTexts) text(t time.Time) []string {
	u := t.Unix()
	slot := &d[uint64(u)%uint64(len(d))]
	if e := slot.Load(); e != nil && e.unix == u {
		return e.value
	}
	v := []string{t.UTC().Format(http.TimeFormat)}
	slot.Store(&dateText{unix: u, value: v})
	return v
}

// Header values set on many replies, each a slice of one element with no
// spare capacity, shared by every reply and never modified: assigning one
// (h[k] = v, k in canonical form) costs neither the canonicalisation of
// Header.Set nor an allocation, and an Add to the same key appends into a
// new array.
var (
	acceptRanges   = []string{"bytes"}
	varyEncoding   = []string{"Accept-Encoding"}
	gzipEncoding   = []string{"gzip"}
	cspPolicy      = []string{"default-src 'none'; img-src * data:; media-src *; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"}
	noSniff        = []string{"nosniff"}
	referrerPolicy = []string{"strict-origin-when-cross-origin"}
)

// notModifiedSince reports whether r's If-None-Match (when present, alone:
// "*" or a tag matching h's ETag by weak comparison) or else its
// If-Modified-Since (a date no older than modtime, to the second) lets a
// GET or HEAD be answered 304.
func notModifiedSince(r *http.Request, h http.Header, modtime time.Time) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if inm := first(r.Header, "If-None-Match"); inm != "" {
		return etagListMatches(inm, first(h, "Etag"))
	}
	ims := first(r.Header, "If-Modified-Since")
	if ims == "" || modtime.IsZero() || modtime.Equal(time.Unix(0, 0)) {
		return false
	}
	t, err := http.ParseTime(ims)
	return err == nil && !modtime.Truncate(time.Second).After(t)
}
