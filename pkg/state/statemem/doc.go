// Package statemem implements [state.Hot] in process, for embedded
// single-process mode: maps under one mutex, token buckets, fenced locks and
// per-stream ring buffers of events with sequence numbers. Subscribers read
// the ring from their own goroutine, so a slow subscriber never blocks a
// publisher; it only loses events once the ring has wrapped past it. A run's
// ring grows with its events up to Config.RunEventsCap, and run streams are
// dropped after Config.RunEventsTTL without events or beyond
// Config.RunStreamsMax (least recently published first, never while
// subscribed), so a long-lived process keeps only recent runs' events.
package statemem
