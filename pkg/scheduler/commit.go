package scheduler

import (
	"context"
	"sync"
	"time"

	"github.com/ia-modules/ia-go/pkg/state"
)

// batchUpdater is the optional store capability group commit needs.
type batchUpdater interface {
	RunUpdateMany(ctx context.Context, ps []*state.RunUpdateParams) ([]*state.Run, []error)
}

// committer groups the commits of concurrent Apply calls (on different
// runs) into one store transaction: the first caller leads, commits every
// update queued so far, hands the results out and passes the lead to the
// next waiter. Under load one commit then carries many decisions; when idle
// a commit carries one, with no added delay.
type committer struct {
	store state.Store
	batch batchUpdater // nil: one RunUpdate per decision

	mu      sync.Mutex
	pending []*commitReq
	busy    bool
}

type commitReq struct {
	u     *state.RunUpdateParams
	run   *state.Run
	err   error
	ready chan struct{}
	lead  bool
}

const commitTimeout = 30 * time.Second

func newCommitter(st state.Store) *committer {
	c := &committer{store: st}
	c.batch, _ = st.(batchUpdater)
	return c
}

func (c *committer) commit(ctx context.Context, u *state.RunUpdateParams) (*state.Run, error) {
	if c.batch == nil {
		return c.store.RunUpdate(ctx, u)
	}
	r := &commitReq{u: u, ready: make(chan struct{}, 1)}
	c.mu.Lock()
	c.pending = append(c.pending, r)
	lead := !c.busy
	if lead {
		c.busy, r.lead = true, true
	}
	c.mu.Unlock()
	if !lead {
		<-r.ready // a result, or the lead (r.lead was set before the send)
		if !r.lead {
			return r.run, r.err
		}
	}
	c.mu.Lock()
	reqs := c.pending
	c.pending = nil
	c.mu.Unlock()
	// The batch outlives the leader's own cancellation: it commits for
	// every waiter.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	ps := make([]*state.RunUpdateParams, len(reqs))
	for i, q := range reqs {
		ps[i] = q.u
	}
	runs, errs := c.batch.RunUpdateMany(bctx, ps)
	cancel()
	for i, q := range reqs {
		q.run, q.err = runs[i], errs[i]
		if q != r {
			q.ready <- struct{}{}
		}
	}
	c.mu.Lock()
	if len(c.pending) > 0 {
		next := c.pending[0]
		next.lead = true
		next.ready <- struct{}{}
	} else {
		c.busy = false
	}
	c.mu.Unlock()
	return r.run, r.err
}
