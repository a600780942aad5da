//go:build race

package search

// raceEnabled is true under the race detector, which makes bleve's
// indexing many times slower: the corpus test then indexes a sample, and
// its timings mean nothing.
const raceEnabled = true
