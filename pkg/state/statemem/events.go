package statemem

import (
	"context"
	"time"

	"github.com/ia-modules/ia-go/pkg/state"
)

// stream is one event stream: a ring that grows up to its capacity, so a
// run with a handful of events costs a handful of slots, not the whole ring.
type stream struct {
	runID string
	seq   int64
	cap   int
	ring  []state.Event // ring[(seq-1)%cap] holds seq
	// notify is closed at the next publish; nil until a subscriber waits,
	// so publishing to a stream nobody watches allocates nothing.
	notify chan struct{}
	subs   int       // subscriptions reading this stream
	last   time.Time // last publish, for RunEventsTTL

	prev, next *stream // in Hot.idle
}

func (s *stream) append(ev state.Event) {
	s.seq++
	ev.Seq = s.seq
	if len(s.ring) < s.cap {
		s.ring = append(s.ring, ev)
	} else {
		s.ring[(s.seq-1)%int64(s.cap)] = ev
	}
	if s.notify != nil {
		close(s.notify)
		s.notify = nil
	}
}

// since returns retained events with Seq > after, up to limit.
func (s *stream) since(after int64, limit int) []state.Event {
	first := max(after+1, s.seq-int64(len(s.ring))+1, 1)
	var out []state.Event
	for seq := first; seq <= s.seq && len(out) < limit; seq++ {
		out = append(out, s.ring[(seq-1)%int64(s.cap)])
	}
	return out
}

// wait returns a channel closed at the stream's next publish.
func (s *stream) wait() <-chan struct{} {
	if s.notify == nil {
		s.notify = make(chan struct{})
	}
	return s.notify
}

// streamList is an intrusive doubly linked list of run streams, least
// recently published first.
type streamList struct {
	head, tail *stream
	n          int
}

func (l *streamList) pushBack(s *stream) {
	s.prev, s.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = s
	} else {
		l.head = s
	}
	l.tail = s
	l.n++
}

func (l *streamList) remove(s *stream) {
	if s.prev != nil {
		s.prev.next = s.next
	} else {
		l.head = s.next
	}
	if s.next != nil {
		s.next.prev = s.prev
	} else {
		l.tail = s.prev
	}
	s.prev, s.next = nil, nil
	l.n--
}

// streamLocked returns the stream, creating it; h.mu must be held.
func (h *Hot) streamLocked(runID string, now time.Time) *stream {
	s, ok := h.streams[runID]
	if !ok {
		capacity := h.cfg.RunEventsCap
		if runID == "" {
			capacity = h.cfg.EventsCap
		}
		s = &stream{runID: runID, cap: capacity, last: now}
		h.streams[runID] = s
		if runID != "" {
			h.idle.pushBack(s)
		}
	}
	return s
}

// touchLocked marks a run stream as just used and drops the streams that
// have been idle past RunEventsTTL or exceed RunStreamsMax, oldest first.
// A stream someone is subscribed to is kept (and counted as used), since
// its subscriber holds it and would miss what a new stream received.
func (h *Hot) touchLocked(s *stream, now time.Time) {
	s.last = now
	h.idle.remove(s)
	h.idle.pushBack(s)
	for range h.idle.n {
		old := h.idle.head
		if old == s || (h.idle.n <= h.cfg.RunStreamsMax && now.Sub(old.last) < h.cfg.RunEventsTTL) {
			return
		}
		h.idle.remove(old)
		if old.subs > 0 {
			h.idle.pushBack(old)
			continue
		}
		delete(h.streams, old.runID)
	}
}

// EventPublish implements [state.Hot].
func (h *Hot) EventPublish(_ context.Context, ev state.Event) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return state.ErrClosed
	}
	now := h.cfg.Now()
	if ev.At.IsZero() {
		ev.At = now
	}
	h.streamLocked("", now).append(ev)
	if ev.RunID != "" {
		s := h.streamLocked(ev.RunID, now)
		s.append(ev)
		h.touchLocked(s, now)
	}
	return nil
}

// EventsSince implements [state.Hot].
func (h *Hot) EventsSince(_ context.Context, runID string, afterSeq int64, limit int) ([]state.Event, error) {
	if limit <= 0 {
		limit = 1000
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.streams[runID]
	if !ok {
		return nil, nil
	}
	return s.since(afterSeq, limit), nil
}

// EventSubscribe implements [state.Hot].
func (h *Hot) EventSubscribe(ctx context.Context, runID string) (<-chan state.Event, func(), error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, nil, state.ErrClosed
	}
	s := h.streamLocked(runID, h.cfg.Now())
	s.subs++
	last := s.seq
	h.wg.Add(1)
	h.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan state.Event, 64)
	done := make(chan struct{})
	go func() {
		defer h.wg.Done()
		defer close(done)
		defer close(ch)
		defer func() {
			h.mu.Lock()
			s.subs--
			h.mu.Unlock()
		}()
		for {
			h.mu.Lock()
			evs := s.since(last, 256)
			var notify <-chan struct{}
			if len(evs) == 0 {
				notify = s.wait()
			}
			h.mu.Unlock()
			for _, ev := range evs {
				select {
				case ch <- ev:
					last = ev.Seq
				case <-ctx.Done():
					return
				case <-h.done:
					return
				}
			}
			if len(evs) > 0 {
				continue
			}
			select {
			case <-notify:
			case <-ctx.Done():
				return
			case <-h.done:
				return
			}
		}
	}()
	stop := func() {
		cancel()
		<-done
	}
	return ch, stop, nil
}
