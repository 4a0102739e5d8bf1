package scheduler

import (
	"context"
	"sync"
	"time"

	"github.com/ia-modules/ia-go/pkg/state"
	"github.com/ia-modules/ia-go/pkg/worker"
)

// DefaultAttemptRecordDelay is Config.AttemptRecordDelay's default.
const DefaultAttemptRecordDelay = 200 * time.Millisecond

// attemptKey identifies an attempt record.
type attemptKey struct {
	run, step          string
	iteration, attempt int
}

func keyOf(runID string, a *state.StepAttempt) attemptKey {
	if a.RunID != "" {
		runID = a.RunID
	}
	return attemptKey{runID, a.StepID, a.Iteration, a.Attempt}
}

// heldStarts holds the "running" records of attempts a scheduler started,
// to be written with the decision their end brings: one row written once
// instead of twice, for most steps. A record still held after the delay
// (a long step) is written on its own; so are all of them when the
// scheduler stops. One lost in a crash is made good by the attempt's end,
// which carries the worker's echo of the inputs and its start time
// (worker.Completion), and the store keeps a stored start and never lets a
// late running record reopen an ended attempt (state.StepAttempt).
type heldStarts struct {
	delay time.Duration
	// wake tells the writer that starts are held again, so that it sleeps
	// while none are.
	wake chan struct{}
	mu   sync.Mutex
	open bool
	m    map[attemptKey]heldStart
}

type heldStart struct {
	rec state.StepAttempt
	due time.Time
}

func newHeldStarts(delay time.Duration) *heldStarts {
	return &heldStarts{delay: delay, wake: make(chan struct{}, 1), m: map[attemptKey]heldStart{}}
}

// holdable reports whether a can wait: a start whose input the worker
// echoes, on a scheduler that holds starts at all.
func (h *heldStarts) holdable(a *state.StepAttempt) bool {
	return h.delay > 0 && a.Status == "running" && len(a.Input) <= worker.EchoInputLimit
}

// split moves the holdable starts out of as (reusing its array) and merges
// the held starts of the records left into them, without forgetting them:
// the commit may still fail.
func (h *heldStarts) split(runID string, as []state.StepAttempt) (write, hold []state.StepAttempt) {
	if h.delay <= 0 {
		return as, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	write = as[:0:len(as)]
	for _, a := range as {
		if h.open && h.holdable(&a) {
			if a.RunID == "" {
				a.RunID = runID
			}
			hold = append(hold, a)
			continue
		}
		if len(h.m) > 0 {
			if held, ok := h.m[keyOf(runID, &a)]; ok {
				if len(a.Input) == 0 {
					a.Input = held.rec.Input
				}
				// The scheduled start, as when it is written first.
				a.StartedAt = held.rec.StartedAt
			}
		}
		write = append(write, a)
	}
	return write, hold
}

// committed records a committed decision: its written records' held starts
// are done with, and hold waits. It returns the starts to write at once
// instead, when the scheduler has stopped holding.
func (h *heldStarts) committed(runID string, written, hold []state.StepAttempt, now time.Time) []state.StepAttempt {
	if h.delay <= 0 {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.m) > 0 {
		for i := range written {
			delete(h.m, keyOf(runID, &written[i]))
		}
	}
	if !h.open {
		return hold
	}
	if len(hold) > 0 && len(h.m) == 0 {
		select {
		case h.wake <- struct{}{}:
		default:
		}
	}
	due := now.Add(h.delay)
	for _, a := range hold {
		h.m[keyOf(runID, &a)] = heldStart{rec: a, due: due}
	}
	return nil
}

// held reports how many starts are held.
func (h *heldStarts) held() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.m)
}

// take removes and returns the starts due by now (all of them when all is
// set).
func (h *heldStarts) take(now time.Time, all bool) []state.StepAttempt {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []state.StepAttempt
	for k, held := range h.m {
		if all || !held.due.After(now) {
			out = append(out, held.rec)
			delete(h.m, k)
		}
	}
	return out
}

// setOpen starts or stops holding.
func (h *heldStarts) setOpen(open bool) {
	h.mu.Lock()
	h.open = open
	h.mu.Unlock()
}

// writeHeld writes the held starts due by now (all when all is set). A
// failed write is logged; those records' attempts get theirs with their end.
func (s *Scheduler) writeHeld(ctx context.Context, now time.Time, all bool) {
	s.putStarts(ctx, s.held.take(now, all))
}

func (s *Scheduler) putStarts(ctx context.Context, recs []state.StepAttempt) {
	if len(recs) == 0 {
		return
	}
	if err := s.cfg.Store.StepAttemptPut(ctx, recs); err != nil {
		s.log.WarnContext(ctx, "scheduler: writing the records of running attempts failed; each gets its record when it ends",
			"error", err, "attempts", len(recs))
	}
}

// heldWriter writes held starts as they fall due, until ctx ends. It
// sleeps while none are held: an idle scheduler does not wake for them.
func (s *Scheduler) heldWriter(ctx context.Context) {
	every := max(s.held.delay/4, 10*time.Millisecond)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.held.wake:
		}
		for s.held.held() > 0 {
			select {
			case <-ctx.Done():
				return
			case now := <-time.After(every):
				s.writeHeld(ctx, now, false)
			}
		}
	}
}
