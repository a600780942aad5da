package server

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// acceptsGzip reports whether the gzip representation should answer r; see
// gzipAccepted.
func acceptsGzip(r *http.Request) bool {
	return gzipAccepted(r.Header.Values("Accept-Encoding"))
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
		for _, elem := range strings.Split(field, ",") {
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
	for _, p := range strings.Split(params, ";") {
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

// serveBytes answers r with body through http.ServeContent (conditional
// requests, HEAD, one byte range), after dropping a Range of more than one
// range: RFC 9110 §14.2 lets a server ignore Range, and a multipart reply
// of many small or overlapping parts can be larger than the document
// itself. The client then gets the whole document, 200.
func serveBytes(w http.ResponseWriter, r *http.Request, modtime time.Time, body []byte) {
	if rng := r.Header.Get("Range"); strings.Contains(rng, ",") || len(r.Header.Values("Range")) > 1 {
		r = r.Clone(r.Context())
		r.Header.Del("Range")
	}
	http.ServeContent(w, r, "", modtime, bytes.NewReader(body))
}
