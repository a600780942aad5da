package main

import (
	"fmt"
	"io"
	"strings"
	"unicode"

	"golang.org/x/text/width"
)

// tableWidth is the width the commands' tables fit: a terminal of 100
// columns shows them without wrapping.
const tableWidth = 100

// displayWidth is how many terminal columns s takes: East Asian wide and
// fullwidth characters two, combining marks and format characters none,
// others one.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		n += runeWidth(r)
	}
	return n
}

func runeWidth(r rune) int {
	switch {
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		return 0
	case width.LookupRune(r).Kind() == width.EastAsianWide, width.LookupRune(r).Kind() == width.EastAsianFullwidth:
		return 2
	}
	return 1
}

// clip returns s on one line (control characters, such as the newline
// errors.Join puts between errors, become spaces) in at most cols
// display columns, ending in "…" when it was cut.
func clip(s string, cols int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if displayWidth(s) <= cols {
		return s
	}
	var b strings.Builder
	used := 0
	for _, r := range s {
		w := runeWidth(r)
		if used+w > cols-1 { // room for the ellipsis
			break
		}
		b.WriteRune(r)
		used += w
	}
	return b.String() + "…"
}

// padRight pads s with spaces to cols display columns.
func padRight(s string, cols int) string {
	if n := cols - displayWidth(s); n > 0 {
		return s + strings.Repeat(" ", n)
	}
	return s
}

// padLeft pads s with spaces on the left to cols display columns.
func padLeft(s string, cols int) string {
	if n := cols - displayWidth(s); n > 0 {
		return strings.Repeat(" ", n) + s
	}
	return s
}

// writeTable writes rows (the first is the header) in aligned columns, two
// spaces apart, right-aligned where right says; under each row but the
// header, its notes, one a line (blank ones left out).
func writeTable(w io.Writer, rows [][]string, right []bool, notes [][]string) {
	cols := make([]int, len(right))
	for _, row := range rows {
		for i, cell := range row {
			cols[i] = max(cols[i], displayWidth(cell))
		}
	}
	for i, row := range rows {
		var b strings.Builder
		for j, cell := range row {
			if j > 0 {
				b.WriteString("  ")
			}
			if right[j] {
				b.WriteString(padLeft(cell, cols[j]))
			} else {
				b.WriteString(padRight(cell, cols[j]))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		if i == 0 {
			continue
		}
		for _, l := range notes[i-1] {
			if strings.TrimSpace(l) != "" {
				fmt.Fprintln(w, l)
			}
		}
	}
}
