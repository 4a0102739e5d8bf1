package scheduler

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ia-modules/ia-go/pkg/state"
)

// batchUpdater is the optional store capability group commit needs.
type batchUpdater interface {
	RunUpdateMany(ctx context.Context, ps []*state.RunUpdateParams) ([]int64, []error)
}

// batchWriter also lets new runs join a group commit.
type batchWriter interface {
	RunWriteMany(ctx context.Context, ws []state.RunWrite) []state.RunWriteResult
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
	// writer, when the store has it, commits run inserts with the
	// decisions; nil: one RunInsert per new run.
	writer batchWriter
	// pre, when the store has it, publishes a decision's due messages
	// inside its commit's transaction, before the commit (commitReq.first),
	// through publish; nil: they go through the outbox.
	pre state.PreCommitter
	// locker, when the store has it, commits a lone decision that asks
	// for it with its run locked again afterwards (commitReq.relock).
	locker  state.RunLocker
	publish func(ctx context.Context, msgs []state.OutboxMessage) error
	// published are outbox rows already published, deleted by the next
	// commit in the same transaction rather than in one of their own.
	published published

	mu         sync.Mutex
	pending    []*commitReq
	leaders    int
	maxLeaders int

	// delay, siblings: see Config.CommitDelay. last is the size of the
	// latest group.
	delay    time.Duration
	siblings int
	last     atomic.Int64
}

// gatherFull is a group big enough not to wait for more: beyond it the
// per-decision cost of a SQLite commit hardly falls.
const gatherFull = 48

type commitReq struct {
	u   *state.RunUpdateParams // or
	ins *state.RunInsertParams
	// first are u's messages to publish before the commit, once u passed
	// its version guard, instead of writing them to the outbox.
	first []state.OutboxMessage
	// relock asks, for an update committed alone, for its run's lock
	// after the commit (state.RunLocker), returned in lock.
	relock bool
	lock   state.RunLock
	// Results: an update's version, an insert's run.
	version int64
	run     *state.Run
	created bool
	err     error
	ready   chan struct{}
	// batch is set when the request leads: the requests it commits.
	batch []*commitReq
}

const commitTimeout = 30 * time.Second

func newCommitter(st state.Store, maxLeaders int, delay time.Duration, siblings int, publish func(context.Context, []state.OutboxMessage) error) *committer {
	c := &committer{store: st, maxLeaders: max(maxLeaders, 1), delay: delay, siblings: siblings}
	c.batch, _ = st.(batchUpdater)
	if c.batch != nil {
		c.writer, _ = st.(batchWriter)
		if publish != nil {
			c.pre, _ = st.(state.PreCommitter)
			c.locker, _ = st.(state.RunLocker)
			c.publish = publish
		}
	}
	return c
}

// insert inserts a new run, in the next group commit when the store can.
func (c *committer) insert(ctx context.Context, p *state.RunInsertParams) (*state.Run, bool, error) {
	if c.writer == nil {
		return c.store.RunInsert(ctx, p)
	}
	r := c.enqueue(ctx, &commitReq{ins: p, ready: make(chan struct{}, 1)})
	return r.run, r.created, r.err
}

// commit returns the run's new version. first are messages to publish
// before the commit when the store can (c.pre); when it cannot, or the
// group also inserts runs, they are appended to u.Outbox instead, to be
// published after the commit as the others. With relock, an update
// committed alone on a state.RunLocker also returns its run's lock.
func (c *committer) commit(ctx context.Context, u *state.RunUpdateParams, first []state.OutboxMessage, relock bool) (int64, state.RunLock, error) {
	if c.pre == nil {
		u.Outbox = append(u.Outbox, first...)
		first = nil
	}
	if c.batch == nil {
		c.attachDeletes(u)
		run, err := c.store.RunUpdate(ctx, u)
		if err != nil {
			c.published.add(u.OutboxDelete)
			return 0, nil, err
		}
		return run.Version, nil, nil
	}
	r := c.enqueue(ctx, &commitReq{u: u, first: first, relock: relock && c.locker != nil, ready: make(chan struct{}, 1)})
	return r.version, r.lock, r.err
}

// enqueue queues r and returns it once a group commit has carried it,
// leading that commit when no other leader is free.
func (c *committer) enqueue(ctx context.Context, r *commitReq) *commitReq {
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
			return r
		}
	}
	if c.delay > 0 && len(r.batch) < gatherFull && c.last.Load() >= int64(c.siblings) {
		// Busy: let more decisions join. The waiters' workers are blocked
		// meanwhile, but the other runs keep the CPU busy.
		time.Sleep(c.delay)
		c.mu.Lock()
		r.batch = append(r.batch, c.takeLocked()...)
		c.mu.Unlock()
	}
	c.last.Store(int64(len(r.batch)))
	reqs := r.batch
	// The batch outlives the leader's own cancellation: it commits for
	// every waiter.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	c.flush(bctx, reqs)
	cancel()
	for _, q := range reqs {
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
	return r
}

// flush commits reqs in one transaction and sets each one's result. The
// published rows waiting for deletion ride with the first update.
func (c *committer) flush(ctx context.Context, reqs []*commitReq) {
	first := -1
	inserts := false
	for i, q := range reqs {
		if q.u != nil && first < 0 {
			first = i
		}
		inserts = inserts || q.ins != nil
	}
	if first >= 0 {
		c.attachDeletes(reqs[first].u)
	}
	if !inserts {
		ps := make([]*state.RunUpdateParams, len(reqs))
		first := false
		for i, q := range reqs {
			ps[i] = q.u
			first = first || len(q.first) > 0
		}
		var (
			versions []int64
			errs     []error
		)
		if len(reqs) == 1 && reqs[0].relock && reqs[0].u != nil {
			q := reqs[0]
			q.version, q.lock, q.err = c.locker.RunUpdateThenLock(ctx, q.u, func(ctx context.Context, applied bool) error {
				return c.publishFirst(ctx, reqs, []bool{applied})
			})
			versions, errs = []int64{q.version}, []error{q.err}
		} else if first {
			versions, errs = c.pre.RunUpdateManyThen(ctx, ps, func(ctx context.Context, applied []bool) error {
				return c.publishFirst(ctx, reqs, applied)
			})
		} else {
			versions, errs = c.batch.RunUpdateMany(ctx, ps)
		}
		for i, q := range reqs {
			q.version, q.err = versions[i], errs[i]
		}
	} else {
		for _, q := range reqs {
			if q.u != nil && len(q.first) > 0 {
				// RunWriteMany has no hook: through the outbox, as the
				// caller publishes u.Outbox after the commit.
				q.u.Outbox = append(q.u.Outbox, q.first...)
				q.first = nil
			}
		}
		ws := make([]state.RunWrite, len(reqs))
		for i, q := range reqs {
			ws[i] = state.RunWrite{Insert: q.ins, Update: q.u}
		}
		res := c.writer.RunWriteMany(ctx, ws)
		for i, q := range reqs {
			q.version, q.run, q.created, q.err = res[i].Version, res[i].Run, res[i].Created, res[i].Err
		}
	}
	if first >= 0 && reqs[first].err != nil {
		c.published.add(reqs[first].u.OutboxDelete) // not deleted: try again later
	}
}

// publishFirst publishes, inside the group's transaction, the first
// messages of the updates that passed their version guard (applied): the
// decisions those updates carry are then the run's next state, and no
// other scheduler can commit one of its own before this transaction ends.
// An error rolls the whole group back.
func (c *committer) publishFirst(ctx context.Context, reqs []*commitReq, applied []bool) error {
	var msgs []state.OutboxMessage
	for i, q := range reqs {
		if applied[i] {
			msgs = append(msgs, q.first...)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return c.publish(ctx, msgs)
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
