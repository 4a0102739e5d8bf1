// Package gctune sets the garbage collector's target for the engine's
// binaries.
package gctune

import (
	"os"
	"runtime/debug"
)

// Percent is the GOGC the binaries run with unless GOGC is set.
//
// The engine's live heap is small (tens of MiB: in-flight tasks, cached run
// states, broker buffers) and its allocation rate high (every step decodes
// and encodes JSON), so at Go's default of 100 a saturated embedded engine
// spent about a fifth of its CPU in the collector. At 400 the heap peaks at
// five times the live heap instead of twice, and embedded chain-10 ran 15 %
// faster in alternating runs (docs/benchmarks.md). GOMEMLIMIT, when set,
// still caps the heap.
const Percent = 400

// Default applies Percent when the environment does not set GOGC, and
// returns the percent in effect (-1 when GOGC=off).
func Default() int {
	if _, ok := os.LookupEnv("GOGC"); ok {
		p := debug.SetGCPercent(100)
		debug.SetGCPercent(p)
		return p
	}
	debug.SetGCPercent(Percent)
	return Percent
}
