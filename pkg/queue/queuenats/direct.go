package queuenats

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ia-modules/ia-go/pkg/queue"
)

// DefaultDirectTimeout bounds a RequestDirect whose ctx has no deadline.
const DefaultDirectTimeout = 30 * time.Second

// headerDirectError carries a DirectHandler's error back to the requester.
const headerDirectError = "Ia-Error"

// directSubject is the core NATS subject of the receiver name.
func (b *Broker) directSubject(name string) string { return b.cfg.Prefix + ".direct." + name }

// ServeDirect answers requests sent to name with h, at most concurrency at
// a time, until the returned subscription is stopped or the broker closes.
// It is core NATS request-reply, not JetStream: nothing is stored, and a
// request whose receiver dies goes unanswered, so a requester must be able
// to do without (a scheduler handing a completion on keeps the completion's
// event unacknowledged until the receiver has answered, and applies it
// itself when none does). name uses the queue-name alphabet.
func (b *Broker) ServeDirect(ctx context.Context, name string, concurrency int, h queue.DirectHandler) (queue.Subscription, error) {
	if err := queue.ValidateQueue(name); err != nil {
		return nil, fmt.Errorf("queuenats: direct receiver: %w", err)
	}
	if b.isClosed() {
		return nil, queue.ErrClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	ds := &directSub{b: b, sem: make(chan struct{}, cmp.Or(concurrency, 1)), cancel: cancel}
	sub, err := b.nc.Subscribe(b.directSubject(name), func(m *nats.Msg) {
		// Blocking here when every slot is busy leaves further requests
		// in the client's buffer: back-pressure, not unbounded goroutines.
		ds.sem <- struct{}{}
		ds.wg.Add(1)
		go func() {
			defer func() { <-ds.sem; ds.wg.Done() }()
			out, err := h(ctx, m.Data)
			reply := nats.NewMsg(m.Reply)
			if err != nil {
				reply.Header.Set(headerDirectError, cmp.Or(err.Error(), "error"))
			} else {
				reply.Data = out
			}
			if err := m.RespondMsg(reply); err != nil {
				b.log.DebugContext(ctx, "queuenats: direct reply failed; the requester falls back", "error", err)
			}
		}()
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("queuenats: serve direct %s: %w", name, err)
	}
	// Requests sent once ServeDirect returns must find the interest.
	if err := b.nc.FlushTimeout(closeTimeout); err != nil {
		_ = sub.Unsubscribe()
		cancel()
		return nil, fmt.Errorf("queuenats: serve direct %s: %w", name, err)
	}
	ds.sub = sub
	b.mu.Lock()
	if b.directs == nil {
		b.directs = map[*directSub]struct{}{}
	}
	b.directs[ds] = struct{}{}
	b.mu.Unlock()
	return ds, nil
}

// RequestDirect sends body to the receiver serving name and returns its
// reply. It returns an error wrapping queue.ErrNoReceiver when none serves
// name, the receiver's error when it failed, and ctx's error when no answer
// came in time (the receiver may still have acted on the request).
func (b *Broker) RequestDirect(ctx context.Context, name string, body []byte) ([]byte, error) {
	if err := queue.ValidateQueue(name); err != nil {
		return nil, fmt.Errorf("queuenats: direct receiver: %w", err)
	}
	if b.isClosed() {
		return nil, queue.ErrClosed
	}
	if _, ok := ctx.Deadline(); !ok {
		// A receiver that dies mid-request never answers.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultDirectTimeout)
		defer cancel()
	}
	m, err := b.nc.RequestWithContext(ctx, b.directSubject(name), body)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil, fmt.Errorf("queuenats: direct %s: %w", name, queue.ErrNoReceiver)
	case err != nil:
		return nil, fmt.Errorf("queuenats: direct %s: %w", name, err)
	}
	if e := m.Header.Get(headerDirectError); e != "" {
		return nil, fmt.Errorf("queuenats: direct %s: receiver: %s", name, e)
	}
	return m.Data, nil
}

// directSub is a running ServeDirect.
type directSub struct {
	b      *Broker
	sub    *nats.Subscription
	sem    chan struct{}
	wg     sync.WaitGroup
	cancel context.CancelFunc
	once   sync.Once
}

// Stop stops taking requests and waits, within ctx, for those being
// answered; past ctx their contexts are cancelled.
func (d *directSub) Stop(ctx context.Context) error {
	var err error
	d.once.Do(func() {
		d.b.mu.Lock()
		delete(d.b.directs, d)
		d.b.mu.Unlock()
		err = d.sub.Unsubscribe()
		if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrBadSubscription) {
			err = nil
		} else if err == nil {
			// Once Stop returns, requests find no receiver at once instead
			// of reaching a subscription the server has not yet dropped.
			_ = d.b.nc.FlushTimeout(closeTimeout)
		}
	})
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		d.cancel()
		<-done
	}
	d.cancel()
	return err
}
