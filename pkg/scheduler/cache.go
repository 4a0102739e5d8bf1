package scheduler

import (
	"sync"

	"github.com/ia-modules/ia-go/pkg/dag"
)

// maxCachedRuns bounds the decoded run states a scheduler keeps.
const maxCachedRuns = 10_000

// cachedRun is a run's decoded state at a known version. It lets a
// scheduler skip reading and decoding the run for every event; the version
// guard on commit catches any update made elsewhere, and a conflict drops
// the entry.
type cachedRun struct {
	version int64
	// status is the run's stored status at version: an update that leaves
	// it as is does not write it, so the store need not touch the indexes
	// on it (SQLite rewrites an index whose column an UPDATE assigns).
	status string
	slug   string // the pipeline's slug, which human tasks are filed under
	g      *dag.Graph
	st     *dag.RunState
	enc    *dag.StateEncoder // remembers the encoding of st's outputs
	// buf held the state's last committed encoding, which nothing reads
	// after the commit: the next decision encodes into it.
	buf []byte
}

// runLocks serializes the events of one run inside this scheduler, so a
// fan-in of many completions does not turn into a storm of version
// conflicts: the first event of a run leads, and events that arrive while
// it works queue up to be decided and committed together by the next
// leader. Schedulers in other processes are still guarded by versions.
type runLocks struct {
	mu     sync.Mutex
	queues map[string]*runQueue
	cache  map[string]*cachedRun
}

// runQueue holds a run's events waiting for the run's leader.
type runQueue struct {
	pending []*applyReq
}

// applyReq is one event waiting to be applied, and its outcome.
type applyReq struct {
	ev    dag.Event
	end   attemptEnd
	err   error
	ready chan struct{} // a result, or the lead
	lead  bool
	// txn is set when the event's decision was handed to its run's open
	// transaction (runlock.go): its result is that of the commit.
	txn *txnDecision
}

// result waits for the request's commit when its decision was handed to a
// transaction, and returns its error.
func (r *applyReq) result() error {
	if r.txn != nil {
		<-r.txn.done
		return r.txn.err
	}
	return r.err
}

func newRunLocks() *runLocks {
	return &runLocks{queues: map[string]*runQueue{}, cache: map[string]*cachedRun{}}
}

// enqueue adds req to the run's queue and reports whether the caller leads
// (no one else is working on the run).
func (r *runLocks) enqueue(runID string, req *applyReq) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.queues[runID]
	lead := q == nil
	if lead {
		q = &runQueue{}
		r.queues[runID] = q
		req.lead = true
	}
	q.pending = append(q.pending, req)
	return lead
}

// take returns the leader's batch: every event queued so far.
func (r *runLocks) take(runID string) []*applyReq {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.queues[runID]
	reqs := q.pending
	q.pending = nil
	return reqs
}

// handOff passes the lead to the oldest event queued meanwhile, or frees
// the run.
func (r *runLocks) handOff(runID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.queues[runID]
	if len(q.pending) == 0 {
		delete(r.queues, runID)
		return
	}
	next := q.pending[0]
	next.lead = true
	next.ready <- struct{}{}
}

// get returns the cached run; the caller leads the run.
func (r *runLocks) get(runID string) *cachedRun {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cache[runID]
}

func (r *runLocks) put(runID string, c *cachedRun) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.cache) >= maxCachedRuns {
		for k := range r.cache { // evict an arbitrary entry
			delete(r.cache, k)
			break
		}
	}
	r.cache[runID] = c
}

func (r *runLocks) drop(runID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.cache, runID)
}
