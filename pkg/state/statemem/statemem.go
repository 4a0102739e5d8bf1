package statemem

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/ia-modules/ia-go/pkg/state"
)

// Defaults for Config fields left at their zero value.
const (
	EventsCapDefault    = 10_000
	RunEventsCapDefault = 1_000
)

// Config configures New. The zero value is ready to use.
type Config struct {
	// EventsCap is the global ring size. Default EventsCapDefault.
	EventsCap int
	// RunEventsCap is each run's ring size. Default RunEventsCapDefault.
	RunEventsCap int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

type entry struct {
	value   string
	expires time.Time
}

type bucket struct {
	tokens float64
	ts     time.Time
}

type stream struct {
	seq    int64
	ring   []state.Event // ring[i%cap] holds seq i+1
	notify chan struct{} // closed and replaced on every publish
}

// Hot is an in-process [state.Hot].
type Hot struct {
	cfg Config

	mu      sync.Mutex
	idem    map[string]entry
	buckets map[string]*bucket
	locks   map[string]entry
	fences  map[string]int64
	streams map[string]*stream // "" is the global stream
	closed  bool
	done    chan struct{}
	wg      sync.WaitGroup
}

var _ state.Hot = (*Hot)(nil)

// New returns an empty Hot.
func New(cfg Config) *Hot {
	if cfg.EventsCap <= 0 {
		cfg.EventsCap = EventsCapDefault
	}
	if cfg.RunEventsCap <= 0 {
		cfg.RunEventsCap = RunEventsCapDefault
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Hot{
		cfg: cfg, idem: map[string]entry{}, buckets: map[string]*bucket{}, locks: map[string]entry{},
		fences: map[string]int64{}, streams: map[string]*stream{}, done: make(chan struct{}),
	}
}

// Close ends every subscription. Safe to call twice.
func (h *Hot) Close() error {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
	h.mu.Unlock()
	h.wg.Wait()
	return nil
}

// IdempotencyClaim implements [state.Hot].
func (h *Hot) IdempotencyClaim(_ context.Context, key, value string, ttl time.Duration) (string, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.cfg.Now()
	if e, ok := h.idem[key]; ok && now.Before(e.expires) {
		return e.value, false, nil
	}
	h.idem[key] = entry{value: value, expires: now.Add(ttl)}
	return value, true, nil
}

// RateLimitAllow implements [state.Hot].
func (h *Hot) RateLimitAllow(_ context.Context, key string, perSecond float64, burst int) (bool, time.Duration, error) {
	if perSecond <= 0 {
		return false, 0, fmt.Errorf("statemem: RateLimitAllow: perSecond must be positive, got %v", perSecond)
	}
	capacity := float64(max(burst, 1))
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.cfg.Now()
	b, ok := h.buckets[key]
	if !ok {
		b = &bucket{tokens: capacity, ts: now}
		h.buckets[key] = b
	}
	b.tokens = math.Min(capacity, b.tokens+max(0, now.Sub(b.ts).Seconds())*perSecond)
	b.ts = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0, nil
	}
	wait := (1 - b.tokens) / perSecond
	return false, time.Duration(math.Ceil(wait * float64(time.Second))), nil
}

// LockAcquire implements [state.Hot].
func (h *Hot) LockAcquire(_ context.Context, key string, ttl time.Duration) (int64, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.cfg.Now()
	if e, ok := h.locks[key]; ok && now.Before(e.expires) {
		return 0, false, nil
	}
	h.fences[key]++
	tok := h.fences[key]
	h.locks[key] = entry{value: fmt.Sprint(tok), expires: now.Add(ttl)}
	return tok, true, nil
}

// LockRelease implements [state.Hot].
func (h *Hot) LockRelease(_ context.Context, key string, token int64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.locks[key]
	if !ok || !h.cfg.Now().Before(e.expires) || e.value != fmt.Sprint(token) {
		return fmt.Errorf("statemem: LockRelease %s: %w", key, state.ErrLockNotHeld)
	}
	delete(h.locks, key)
	return nil
}

// streamLocked returns the stream, creating it; h.mu must be held.
func (h *Hot) streamLocked(runID string) *stream {
	s, ok := h.streams[runID]
	if !ok {
		capacity := h.cfg.RunEventsCap
		if runID == "" {
			capacity = h.cfg.EventsCap
		}
		s = &stream{ring: make([]state.Event, capacity), notify: make(chan struct{})}
		h.streams[runID] = s
	}
	return s
}

func (s *stream) append(ev state.Event) {
	s.seq++
	ev.Seq = s.seq
	s.ring[(s.seq-1)%int64(len(s.ring))] = ev
	close(s.notify)
	s.notify = make(chan struct{})
}

// since returns retained events with Seq > after, up to limit.
func (s *stream) since(after int64, limit int) []state.Event {
	first := max(after+1, s.seq-int64(len(s.ring))+1, 1)
	var out []state.Event
	for seq := first; seq <= s.seq && len(out) < limit; seq++ {
		out = append(out, s.ring[(seq-1)%int64(len(s.ring))])
	}
	return out
}

// EventPublish implements [state.Hot].
func (h *Hot) EventPublish(_ context.Context, ev state.Event) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return state.ErrClosed
	}
	if ev.At.IsZero() {
		ev.At = h.cfg.Now()
	}
	h.streamLocked("").append(ev)
	if ev.RunID != "" {
		h.streamLocked(ev.RunID).append(ev)
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
	s := h.streamLocked(runID)
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
		for {
			h.mu.Lock()
			evs := s.since(last, 256)
			notify := s.notify
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
