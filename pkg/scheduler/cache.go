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
	slug    string // the pipeline's slug, which human tasks are filed under
	g       *dag.Graph
	st      *dag.RunState
	enc     *dag.StateEncoder // remembers the encoding of st's outputs
}

// runLocks serializes the events of one run inside this scheduler, so a
// fan-in of many completions does not turn into a storm of version
// conflicts. Schedulers in other processes are still guarded by versions.
type runLocks struct {
	mu    sync.Mutex
	locks map[string]*runLock
	cache map[string]*cachedRun
}

type runLock struct {
	mu   sync.Mutex
	refs int
}

func newRunLocks() *runLocks {
	return &runLocks{locks: map[string]*runLock{}, cache: map[string]*cachedRun{}}
}

// lock takes the run's lock and returns its release.
func (r *runLocks) lock(runID string) func() {
	r.mu.Lock()
	l := r.locks[runID]
	if l == nil {
		l = &runLock{}
		r.locks[runID] = l
	}
	l.refs++
	r.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		r.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(r.locks, runID)
		}
		r.mu.Unlock()
	}
}

// get returns the cached run; the caller holds the run's lock.
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
