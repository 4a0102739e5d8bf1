package scheduler

import (
	"context"
	"sync"
	"time"

	"github.com/ia-modules/ia-go/pkg/state"
)

// A run's transaction held open between its decisions (state.RunLocker,
// Postgres).
//
// When a decision publishes tasks before its commit, the round trip that
// commits it also opens a transaction that locks the run again, and the
// scheduler keeps it for Config.HoldRunLocks. While it is open no other
// update of the run can commit, so the scheduler's cached copy of the run is
// the stored one, and the run's next decisions need no check before they
// publish: each one publishes its tasks, hands its writes to the
// transaction and lets the run's next decision go, without waiting for a
// round trip to the store. The transaction commits once the run is quiet for
// txnLinger, or has carried txnMaxDecisions, or is txnMaxAge old; only then
// are the decisions' completions acknowledged. A decision lost with its
// transaction (its scheduler died, the store failed) is taken again from its
// completion, delivered again as for a commit lost after publishing (see
// the package doc). Another writer of the run (another scheduler, the API)
// waits at most a transaction's life.
const (
	// DefaultHoldRunLocks is Config.HoldRunLocks' default: long enough for
	// a short step's completion to come back.
	DefaultHoldRunLocks = 5 * time.Millisecond
	// maxHeldRunLocks bounds the transactions one scheduler holds open,
	// each on a pooled connection. Beyond a few runs at once the group
	// commits carry the decisions instead.
	maxHeldRunLocks = 2
	// txnLinger is how long an open transaction with uncommitted decisions
	// waits for the run's next one before it commits.
	txnLinger = time.Millisecond
	// txnMaxDecisions and txnMaxAge bound how much an open transaction
	// carries uncommitted, and so how long another writer of the run and
	// the acknowledgement of a completion may wait.
	txnMaxDecisions = 32
	txnMaxAge       = 10 * time.Millisecond
)

// runTxns are the transactions a scheduler holds open, by run ID.
type runTxns struct {
	s    *Scheduler
	hold time.Duration

	mu     sync.Mutex
	m      map[string]*runTxn
	closed bool
	wg     sync.WaitGroup // writers
}

func newRunTxns(s *Scheduler, hold time.Duration) *runTxns {
	return &runTxns{s: s, hold: hold, m: map[string]*runTxn{}}
}

// room reports whether a new transaction would be kept.
func (ts *runTxns) room() bool {
	if ts.hold <= 0 {
		return false
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return !ts.closed && len(ts.m) < maxHeldRunLocks
}

// keep holds lock, the run's transaction after a commit, open for its next
// decisions, or releases it when there is no room.
func (ts *runTxns) keep(runID string, lock state.RunLock) {
	ts.mu.Lock()
	if ts.closed || len(ts.m) >= maxHeldRunLocks || ts.m[runID] != nil {
		ts.mu.Unlock()
		lock.Release(context.Background())
		return
	}
	t := &runTxn{ts: ts, runID: runID, lock: lock, version: lock.Version(), born: time.Now(), kick: make(chan struct{}, 1)}
	ts.m[runID] = t
	ts.wg.Add(1)
	ts.mu.Unlock()
	go t.serve()
}

// get returns the run's open transaction, or nil.
func (ts *runTxns) get(runID string) *runTxn {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.m[runID]
}

func (ts *runTxns) remove(t *runTxn) {
	ts.mu.Lock()
	if ts.m[t.runID] == t {
		delete(ts.m, t.runID)
	}
	ts.mu.Unlock()
}

// close commits what the open transactions carry, keeps no new one and
// waits for them to end.
func (ts *runTxns) close() {
	ts.mu.Lock()
	ts.closed = true
	open := make([]*runTxn, 0, len(ts.m))
	for _, t := range ts.m {
		open = append(open, t)
	}
	ts.mu.Unlock()
	for _, t := range open {
		t.mu.Lock()
		t.stopping = true
		t.mu.Unlock()
		t.signal()
	}
	ts.wg.Wait()
}

// runTxn is one run's open transaction and the decisions handed to it.
type runTxn struct {
	ts    *runTxns
	runID string
	lock  state.RunLock
	born  time.Time
	kick  chan struct{}

	mu sync.Mutex
	// version is the run's version after the decisions handed over so far.
	version  int64
	queue    []*txnDecision // handed over, not yet written
	carried  int            // written, not yet committed
	ended    bool           // takes no more decisions
	stopping bool
}

// txnDecision is one decision handed to a transaction.
type txnDecision struct {
	u *state.RunUpdateParams
	// after runs once the decision has committed, in decision order.
	after func()
	// final: the run ends with this decision; the transaction commits.
	final bool
	err   error
	done  chan struct{}
}

// add hands d, decided on the run at version, to t; false when t takes no
// more decisions or is at another version, and the decision must commit on
// its own.
func (t *runTxn) add(version int64, d *txnDecision) bool {
	t.mu.Lock()
	if t.ended || t.stopping || version != t.version {
		t.mu.Unlock()
		return false
	}
	t.queue = append(t.queue, d)
	t.version++
	t.mu.Unlock()
	t.signal()
	return true
}

// at reports whether t takes decisions on the run at version.
func (t *runTxn) at(version int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.ended && !t.stopping && version == t.version
}

func (t *runTxn) signal() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// serve writes the decisions handed over, in order, and commits them,
// until the run is quiet for the hold or t fails.
func (t *runTxn) serve() {
	defer t.ts.wg.Done()
	defer t.ts.remove(t)
	ctx := context.Background()
	var written []*txnDecision
	fail := func(err error) {
		t.mu.Lock()
		t.ended = true
		rest := t.queue
		t.queue = nil
		t.mu.Unlock()
		t.lock.Release(ctx)
		// The decisions are in the scheduler's cached copy of the run but
		// not in the store.
		t.ts.s.runs.drop(t.runID)
		for _, d := range append(written, rest...) {
			d.err = err
			close(d.done)
		}
	}
	wait := time.NewTimer(t.ts.hold)
	defer wait.Stop()
	final := false // a written decision ends the run: commit at once
	for {
		t.mu.Lock()
		batch := t.queue
		t.queue = nil
		stopping := t.stopping
		t.mu.Unlock()
		for _, d := range batch {
			if _, err := t.lock.Write(ctx, d.u); err != nil {
				written = append(written, d)
				fail(err)
				return
			}
			written = append(written, d)
			final = final || d.final
		}
		if len(batch) > 0 {
			continue // more may have come meanwhile
		}
		full := len(written) >= txnMaxDecisions || time.Since(t.born) >= txnMaxAge
		if len(written) > 0 && !full && !final && !stopping && t.await(wait, txnLinger) {
			continue // the run's next decision came within the linger
		}
		if len(written) > 0 {
			t.mu.Lock()
			t.ended = true // no decision joins while it commits
			t.mu.Unlock()
			relock := !final && !stopping && !t.ts.closing()
			_, next, err := t.lock.Commit(ctx, relock)
			if err != nil {
				fail(err)
				return
			}
			for _, d := range written {
				if d.after != nil {
					d.after()
				}
				close(d.done)
			}
			written = nil
			if next == nil {
				t.end()
				return
			}
			// Another writer may have committed between the commit and
			// the new lock: the cached copy is then behind.
			moved := next.Version() != t.version
			t.mu.Lock()
			t.lock, t.born, t.ended = next, time.Now(), moved
			t.mu.Unlock()
			if moved {
				t.ts.s.runs.drop(t.runID)
				t.end() // releases next
				return
			}
			continue
		}
		if stopping {
			t.end()
			return
		}
		// Nothing carried: wait for the run's next decision for the hold.
		if t.await(wait, t.ts.hold) {
			continue
		}
		t.mu.Lock()
		if len(t.queue) > 0 {
			t.mu.Unlock()
			continue // came as the hold ended
		}
		t.ended = true
		t.mu.Unlock()
		t.ts.s.metrics.heldLocks.WithLabelValues("expired").Inc()
		t.end()
		return
	}
}

// await waits up to d for a decision to be handed to t, and reports
// whether one is waiting to be written.
func (t *runTxn) await(wait *time.Timer, d time.Duration) bool {
	wait.Reset(d)
	select {
	case <-t.kick:
		wait.Stop()
		return true
	case <-wait.C:
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.queue) > 0
}

// end releases t's lock, if it holds one, once it takes no decision.
func (t *runTxn) end() {
	t.mu.Lock()
	t.ended = true
	t.mu.Unlock()
	if t.lock != nil {
		t.lock.Release(context.Background())
	}
}

func (ts *runTxns) closing() bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.closed
}
