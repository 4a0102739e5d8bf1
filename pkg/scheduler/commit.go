package scheduler

import (
	"context"
	"sync"
	"time"

	"github.com/ia-modules/ia-go/pkg/state"
)

// batchUpdater is the optional store capability group commit needs.
type batchUpdater interface {
	RunUpdateMany(ctx context.Context, ps []*state.RunUpdateParams) ([]int64, []error)
}

// committer groups the commits of concurrent Apply calls (on different
// runs) into one store transaction: the first caller leads, commits every
// update queued so far, hands the results out and passes the lead to the
// next waiter. Under load one commit then carries many decisions; when idle
// a commit carries one, with no added delay. Up to maxLeaders batches
// commit at once: one for SQLite's single writer, more for a Postgres pool,
// where a batch waits for its fsync while the next one is sent.
type committer struct {
	store state.Store
	batch batchUpdater // nil: one RunUpdate per decision
	// published are outbox rows already published, deleted by the next
	// commit in the same transaction rather than in one of their own.
	published published

	mu         sync.Mutex
	pending    []*commitReq
	leaders    int
	maxLeaders int
}

type commitReq struct {
	u       *state.RunUpdateParams
	version int64
	err     error
	ready   chan struct{}
	// batch is set when the request leads: the requests it commits.
	batch []*commitReq
}

const commitTimeout = 30 * time.Second

func newCommitter(st state.Store, maxLeaders int) *committer {
	c := &committer{store: st, maxLeaders: max(maxLeaders, 1)}
	c.batch, _ = st.(batchUpdater)
	return c
}

// commit returns the run's new version.
func (c *committer) commit(ctx context.Context, u *state.RunUpdateParams) (int64, error) {
	if c.batch == nil {
		c.attachDeletes(u)
		run, err := c.store.RunUpdate(ctx, u)
		if err != nil {
			c.published.add(u.OutboxDelete)
			return 0, err
		}
		return run.Version, nil
	}
	r := &commitReq{u: u, ready: make(chan struct{}, 1)}
	c.mu.Lock()
	c.pending = append(c.pending, r)
	lead := c.leaders < c.maxLeaders
	if lead {
		c.leaders++
		r.batch = c.takeLocked()
	}
	c.mu.Unlock()
	if !lead {
		<-r.ready // a result, or the lead with its batch (set before the send)
		if r.batch == nil {
			return r.version, r.err
		}
	}
	reqs := r.batch
	// The batch outlives the leader's own cancellation: it commits for
	// every waiter.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	ps := make([]*state.RunUpdateParams, len(reqs))
	for i, q := range reqs {
		ps[i] = q.u
	}
	c.attachDeletes(ps[0])
	versions, errs := c.batch.RunUpdateMany(bctx, ps)
	cancel()
	if errs[0] != nil {
		c.published.add(ps[0].OutboxDelete) // not deleted: try again later
	}
	for i, q := range reqs {
		q.version, q.err = versions[i], errs[i]
		if q != r {
			q.ready <- struct{}{}
		}
	}
	c.mu.Lock()
	if len(c.pending) > 0 {
		// Pass the lead, and with it everything queued meanwhile, to the
		// oldest waiter: a leader's batch is always taken under the lock,
		// so no request is in two batches.
		next := c.pending[0]
		next.batch = c.takeLocked()
		next.ready <- struct{}{}
	} else {
		c.leaders--
	}
	c.mu.Unlock()
	return r.version, r.err
}

// takeLocked takes every pending request as a batch; c.mu is held.
func (c *committer) takeLocked() []*commitReq {
	reqs := c.pending
	c.pending = nil
	return reqs
}

// attachDeletes hands the published rows to u's transaction. The caller
// puts them back when u does not commit.
func (c *committer) attachDeletes(u *state.RunUpdateParams) {
	u.OutboxDelete = append(u.OutboxDelete, c.published.take()...)
}

// published is a set of outbox seqs waiting to be deleted.
type published struct {
	mu   sync.Mutex
	seqs []int64
}

func (p *published) add(seqs []int64) {
	if len(seqs) == 0 {
		return
	}
	p.mu.Lock()
	p.seqs = append(p.seqs, seqs...)
	p.mu.Unlock()
}

func (p *published) take() []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	seqs := p.seqs
	p.seqs = nil
	return seqs
}
