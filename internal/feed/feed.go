// Package feed holds the aggregator's domain types: sources, items, channels,
// the state of a polled source, item identity and application errors.
//
// It is the leaf of the dependency graph: it imports only the standard library,
// and every other package speaks in its types. It does no I/O.
package feed
