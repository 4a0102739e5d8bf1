package state

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// ErrLockNotHeld: LockRelease was called with a token that no longer holds
// the lock (it expired and may now belong to someone else). Nothing was
// released; work done under the lock after it expired may have raced.
var ErrLockNotHeld = errors.New("state: lock not held")

// Event is one live run event (step started, step finished, run finished,
// ...). Seq is assigned by the Hot store and increases by one per stream: the
// per-run stream when read with a run ID, the global stream otherwise. So the
// same event has different Seqs in the two streams.
type Event struct {
	Seq    int64
	RunID  string
	StepID string
	Type   string
	Data   json.RawMessage
	At     time.Time
}

// Hot is the fast, losable state shared by the processes of one deployment:
// idempotency claims, rate limits, fenced locks and live run events. Nothing
// in it is the truth about a run; Store is.
type Hot interface {
	// IdempotencyClaim sets key to value for ttl unless it is already set
	// (SET NX). It returns the current value and whether this call set it.
	IdempotencyClaim(ctx context.Context, key, value string, ttl time.Duration) (existing string, claimed bool, err error)

	// RateLimitAllow takes one token from the bucket key, which refills at
	// perSecond and holds at most burst tokens (burst < 1 counts as 1). When
	// no token is left it returns false and how long until one is.
	RateLimitAllow(ctx context.Context, key string, perSecond float64, burst int) (allowed bool, retryAfter time.Duration, err error)

	// LockAcquire takes the lock key for ttl. On success it returns a fencing
	// token that is larger than every token handed out before for key; pass it
	// to whatever the lock protects so stale holders can be refused.
	LockAcquire(ctx context.Context, key string, ttl time.Duration) (token int64, ok bool, err error)
	// LockRelease releases the lock if token still holds it, and returns
	// ErrLockNotHeld otherwise.
	LockRelease(ctx context.Context, key string, token int64) error

	// EventPublish appends ev (Seq and, when zero, At are assigned) to the
	// global stream and to the stream of ev.RunID.
	EventPublish(ctx context.Context, ev Event) error
	// EventSubscribe delivers every event published after the call returns,
	// for runID or for all runs when runID is "". The stop func ends the
	// subscription and closes the channel; so does cancelling ctx.
	//
	// To resume without a gap (SSE Last-Event-ID), subscribe first, then call
	// EventsSince, then skip live events whose Seq is not above the last
	// replayed one.
	EventSubscribe(ctx context.Context, runID string) (<-chan Event, func(), error)
	// EventsSince returns up to limit retained events with Seq > afterSeq,
	// oldest first, from the stream of runID ("" = global).
	EventsSince(ctx context.Context, runID string, afterSeq int64, limit int) ([]Event, error)

	Close() error
}
