package steps

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// Registry maps step classes (the step_class string of the pipeline JSON)
// to handlers. It is safe for concurrent use; register everything before the
// worker starts.
type Registry struct {
	mu       sync.RWMutex
	handlers map[string]Handler
	mws      []Middleware
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{handlers: make(map[string]Handler)}
}

// Register adds h for class. It panics when class is empty or already
// registered, because both are programming errors found at startup.
func (r *Registry) Register(class string, h Handler) {
	if err := r.RegisterSafely(class, h); err != nil {
		panic(err)
	}
}

// RegisterSafely is Register returning [ErrEmptyClass] or [ErrDuplicate]
// instead of panicking.
func (r *Registry) RegisterSafely(class string, h Handler) error {
	if class == "" {
		return ErrEmptyClass
	}
	if h == nil {
		return fmt.Errorf("steps: nil handler for class %q", class)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.handlers[class]; ok {
		return fmt.Errorf("%w: %q", ErrDuplicate, class)
	}
	r.handlers[class] = h
	return nil
}

// Lookup returns the handler for class wrapped in the registry's middleware.
// The returned handler implements Unwrap() Handler, so [TimeoutOf] and
// [RetryPolicyOf] still see the registered handler's optional interfaces.
func (r *Registry) Lookup(class string) (Handler, bool) {
	r.mu.RLock()
	h, ok := r.handlers[class]
	mws := r.mws
	r.mu.RUnlock()
	if !ok {
		return nil, false
	}
	if len(mws) == 0 {
		return h, true
	}
	return &wrapped{outer: Chain(h, mws...), inner: h}, true
}

// Classes returns the registered classes, sorted.
func (r *Registry) Classes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	classes := make([]string, 0, len(r.handlers))
	for c := range r.handlers {
		classes = append(classes, c)
	}
	slices.Sort(classes)
	return classes
}

// Use appends middleware applied to every handler returned by Lookup,
// including handlers registered later. The first middleware is outermost.
func (r *Registry) Use(mw ...Middleware) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// A fresh slice, so Lookups already holding the old one are unaffected.
	r.mws = append(slices.Clip(r.mws), mw...)
}

// wrapped is a middleware-wrapped handler that remembers what it wraps.
type wrapped struct {
	outer Handler
	inner Handler
}

func (w *wrapped) Run(ctx context.Context, in *Input) (*Output, error) { return w.outer.Run(ctx, in) }
func (w *wrapped) Unwrap() Handler                                     { return w.inner }

// Has reports whether class is registered (it lets pkg/dag report unknown
// step classes at load time).
func (r *Registry) Has(class string) bool {
	_, ok := r.Lookup(class)
	return ok
}
