package scheduler

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/ia-modules/ia-go/pkg/dag"
	"github.com/ia-modules/ia-go/pkg/state"
)

// Live events are published off the decision's path: a decision queues
// them once it has committed, and one goroutine at a time publishes the
// queue in order. Waiting for the hot state there (two Redis round trips a
// step) held up the run's next decision, and with it the next step, by a
// third of a hop.
const (
	// liveQueueMax bounds the events waiting to be published; beyond it
	// new ones are dropped (best effort: watchers re-read the store).
	liveQueueMax = 1 << 16
	// livePublishTimeout bounds one publish of queued events.
	livePublishTimeout = 5 * time.Second
	// liveLinger is how long queued events wait for more to join them: one
	// publish then carries the events of several steps, and the hot
	// state's subscribers (every worker, for cancellations) wake once for
	// them all.
	liveLinger = 5 * time.Millisecond
)

// liveBatcher is the optional hot-state capability to publish several
// events in one round trip (stateredis.Hot).
type liveBatcher interface {
	EventPublishMany(ctx context.Context, evs []state.Event) error
}

// liveQueue holds the live events waiting to be published.
type liveQueue struct {
	mu      sync.Mutex
	pending []state.Event
	running bool // a goroutine is publishing; it takes what is queued
	wg      sync.WaitGroup
}

// live publishes progress events for watchers (best effort: the store is
// the truth, watchers can re-read it).
func (s *Scheduler) live(runID string, acts []dag.Action) {
	if s.cfg.Hot == nil {
		return
	}
	for _, a := range acts {
		switch a.Kind {
		case dag.ActionStartStep:
			s.publishLive(runID, a.StepID, "step_started", stepData(a.Attempt, a.Iteration, "delay_ms", strconv.AppendInt(nil, a.Delay.Milliseconds(), 10)))
		case dag.ActionSkipStep:
			s.publishLive(runID, a.StepID, "step_skipped", map[string]any{"reason": a.Reason})
		case dag.ActionWaitHuman:
			s.publishLive(runID, a.StepID, "step_waiting", map[string]any{"prompt": a.Human.Prompt})
		case dag.ActionCancelStep:
			s.publishLive(runID, a.StepID, "step_cancelled", map[string]any{"iteration": a.Iteration})
		case dag.ActionFinishRun:
			s.publishLive(runID, "", "run_finished", map[string]any{"status": a.Status, "error": a.Error})
		}
	}
}

// stepData is the data of a live event about an attempt,
// {"attempt":A,"<key>":<val>,"iteration":I}: what json.Marshal gives for
// the map (keys sorted; key sorts between the two), without reflection,
// for the two events of every step.
func stepData(attempt, iteration int, key string, val []byte) json.RawMessage {
	b := make([]byte, 0, 48+len(key)+len(val))
	b = strconv.AppendInt(append(b, `{"attempt":`...), int64(attempt), 10)
	b = append(append(append(append(b, `,"`...), key...), `":`...), val...)
	b = strconv.AppendInt(append(b, `,"iteration":`...), int64(iteration), 10)
	return append(b, '}')
}

// publishLive queues a live event; data is a map to encode or, already
// encoded, a json.RawMessage. Events are published in the order they are
// queued, so a run's events keep the order of its decisions.
func (s *Scheduler) publishLive(runID, stepID, typ string, data any) {
	if s.cfg.Hot == nil {
		return
	}
	raw, ok := data.(json.RawMessage)
	if !ok {
		raw, _ = json.Marshal(data)
	}
	ev := state.Event{RunID: runID, StepID: stepID, Type: typ, Data: raw}
	q := &s.liveQ
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.pending) >= liveQueueMax {
		s.metrics.liveDropped.Inc()
		return
	}
	q.pending = append(q.pending, ev)
	if !q.running {
		q.running = true
		q.wg.Add(1)
		go s.drainLive()
	}
}

// drainLive publishes the queued events until the queue is empty.
func (s *Scheduler) drainLive() {
	q := &s.liveQ
	defer q.wg.Done()
	for {
		time.Sleep(liveLinger)
		q.mu.Lock()
		evs := q.pending
		q.pending = nil
		if len(evs) == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), livePublishTimeout)
		err := s.sendLive(ctx, evs)
		cancel()
		if err != nil {
			s.metrics.liveDropped.Add(float64(len(evs)))
			s.log.Debug("scheduler: live events dropped", "events", len(evs), "error", err)
		}
	}
}

// sendLive publishes evs in order, in one round trip when the hot state
// can.
func (s *Scheduler) sendLive(ctx context.Context, evs []state.Event) error {
	if b, ok := s.cfg.Hot.(liveBatcher); ok {
		return b.EventPublishMany(ctx, evs)
	}
	for _, ev := range evs {
		if err := s.cfg.Hot.EventPublish(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}

// waitLive waits, within ctx, for the queued live events to be published.
func (s *Scheduler) waitLive(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		s.liveQ.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
