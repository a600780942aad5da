// Package e2e holds the tests that drive the real aggregator binary as a
// process: crash safety under SIGKILL and SIGTERM, a second process on the
// same database, damaged and full databases, and load. It has no code of
// its own; each test builds cmd/aggregator once (TestMain) and talks to it
// through its command line, its log and its HTTP routes, as an operator
// and a feed reader would.
//
// The long variants (more kills, a 60-second load) run when
// AGGREGATOR_LONG=1; the default variants are short enough for CI.
package e2e
