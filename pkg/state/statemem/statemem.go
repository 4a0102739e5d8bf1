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
	EventsCapDefault     = 10_000
	RunEventsCapDefault  = 1_000
	RunStreamsMaxDefault = 4_096
	RunEventsTTLDefault  = time.Hour
)

// Config configures New. The zero value is ready to use.
type Config struct {
	// EventsCap is the global ring size. Default EventsCapDefault.
	EventsCap int
	// RunEventsCap is each run's ring size. Default RunEventsCapDefault.
	RunEventsCap int
	// RunStreamsMax caps how many runs' streams are kept: past it, the
	// stream that has gone longest without an event is dropped, unless
	// someone is subscribed to it. Default RunStreamsMaxDefault.
	RunStreamsMax int
	// RunEventsTTL drops a run's stream after that long without events
	// (checked when events are published). Default RunEventsTTLDefault.
	RunEventsTTL time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// idemSweepEvery is how many idempotency claims pass between sweeps of the
// expired ones: often enough to bound the map, rarely enough to cost nothing.
const idemSweepEvery = 1024

type entry struct {
	value   string
	expires time.Time
}

type bucket struct {
	tokens float64
	ts     time.Time
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
	// idle lists the run streams, least recently published first.
	idle   streamList
	claims int // IdempotencyClaim calls since the last sweep
	closed bool
	done   chan struct{}
	wg     sync.WaitGroup
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
	if cfg.RunStreamsMax <= 0 {
		cfg.RunStreamsMax = RunStreamsMaxDefault
	}
	if cfg.RunEventsTTL <= 0 {
		cfg.RunEventsTTL = RunEventsTTLDefault
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
	// Expired claims are otherwise only replaced when their key comes back:
	// sweep now and then so that a long-lived process does not keep them all.
	if h.claims++; h.claims >= idemSweepEvery {
		h.claims = 0
		for k, e := range h.idem {
			if !now.Before(e.expires) {
				delete(h.idem, k)
			}
		}
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
