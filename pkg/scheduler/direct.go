package scheduler

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/ia-modules/ia-go/pkg/queue"
	"github.com/ia-modules/ia-go/pkg/worker"
)

// directServer and directRequester are a broker's request-reply lane to
// one named receiver (queuenats.Broker).
type directServer interface {
	ServeDirect(ctx context.Context, name string, concurrency int, h queue.DirectHandler) (queue.Subscription, error)
}

type directRequester interface {
	RequestDirect(ctx context.Context, name string, body []byte) ([]byte, error)
}

// Handing a completion on to the scheduler that decided its task.
const (
	// forwardTimeout bounds the wait for that scheduler's answer (it may
	// have died with the request); the completion is then applied here.
	forwardTimeout = 250 * time.Millisecond
	// slowFor is how long a scheduler that did not answer in time is
	// passed over.
	slowFor = 5 * time.Second
)

// serveDirect takes, over the broker's direct lane when it has one, the
// completions that other schedulers (or workers' in-process schedulers)
// received for the tasks this one decided: the run's state is in this
// scheduler's memory, where any other would have to read it back from the
// store first. With two schedulers, tasks alternate between workers and
// nearly every completion used to find a stale copy there. Called by Start
// with s.mu held.
func (s *Scheduler) serveDirect(ctx context.Context) {
	ds, ok := s.cfg.Broker.(directServer)
	if !ok || s.cfg.NoDirect {
		return
	}
	name := directName(s.cfg.ID)
	sub, err := ds.ServeDirect(ctx, name, s.cfg.Concurrency, s.completeDirect)
	if err != nil {
		s.log.WarnContext(ctx, "scheduler: no direct lane; the completions of its tasks are applied wherever they arrive", "error", err)
		return
	}
	s.directs = sub
	s.direct.Store(&name)
}

// DirectName is the name this scheduler serves the direct lane under (and
// its tasks carry), "" when it does not.
func (s *Scheduler) DirectName() string {
	if n := s.direct.Load(); n != nil {
		return *n
	}
	return ""
}

// errNotCompletion refuses a direct request that is not a step completion.
var errNotCompletion = errors.New("scheduler: not a step completion")

// completeDirect applies a completion handed on by another scheduler, here
// (never handed on again); an error makes the sender apply it itself.
func (s *Scheduler) completeDirect(ctx context.Context, body []byte) ([]byte, error) {
	var c worker.Completion
	if err := worker.DecodeCompletion(body, &c); err != nil {
		return nil, err
	}
	if c.Kind != "" {
		return nil, errNotCompletion
	}
	return nil, s.complete(ctx, &c)
}

// handOn gives the completion c (body: its JSON, nil to encode it) to the
// scheduler that decided its task, when that is another one serving the
// direct lane, and reports whether it was applied there. The caller holds
// c's message (or the worker its task) until then, so nothing is lost when
// that scheduler dies with the request: it is applied here after
// forwardTimeout, and if the other one applied it too, the second finds it
// stale.
func (s *Scheduler) handOn(ctx context.Context, c *worker.Completion, body []byte) bool {
	dr, ok := s.cfg.Broker.(directRequester)
	name := c.Scheduler
	if !ok || name == "" || c.Kind != "" || s.cfg.NoDirect || name == s.DirectName() || s.slow.has(name, time.Now()) {
		return false
	}
	if body == nil {
		var err error
		if body, err = worker.EncodeCompletion(c); err != nil {
			return false
		}
	}
	rctx, cancel := context.WithTimeout(ctx, forwardTimeout)
	_, err := dr.RequestDirect(rctx, name, body)
	cancel()
	if err == nil {
		s.metrics.handedOn.Inc()
		return true
	}
	if errors.Is(err, context.DeadlineExceeded) {
		// Dead mid-request, or overloaded: its next completions are applied
		// here at once rather than wait on it again.
		s.slow.add(name, time.Now().Add(slowFor))
	}
	s.log.DebugContext(ctx, "scheduler: handing a completion on failed; applying it here", "run_id", c.RunID, "step_id", c.StepID,
		"scheduler", name, "error", err)
	return false
}

// slowSet maps scheduler names to the time until which they are passed
// over.
type slowSet struct {
	mu    sync.Mutex
	until map[string]time.Time
}

func (s *slowSet) add(name string, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.until == nil {
		s.until = map[string]time.Time{}
	}
	now := until.Add(-slowFor)
	for n, u := range s.until {
		if u.Before(now) {
			delete(s.until, n)
		}
	}
	s.until[name] = until
}

func (s *slowSet) has(name string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.until[name]
	return ok && now.Before(u)
}

// directName turns a scheduler ID into a receiver name (queue-name
// alphabet: a host name's dots become '_').
func directName(id string) string {
	return strings.Map(func(r rune) rune {
		if queue.NameRune(r) {
			return r
		}
		return '_'
	}, id)
}
