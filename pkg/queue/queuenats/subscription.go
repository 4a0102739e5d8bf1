package queuenats

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ia-modules/ia-go/pkg/queue"
)

// Subscribe binds to the queue's durable consumer, creating it if needed,
// and hands each message to h on up to cfg.Concurrency goroutines. All
// subscribers of a queue share that consumer, so they compete for messages.
// The consumer's AckWait is the one from the most recent Subscribe.
//
// The subscription prefetches at most Concurrency messages beyond those
// being handled, so that the next message is already local when a handler
// finishes while other processes still get their share. It runs until Stop,
// Close, or the cancellation of ctx (a hard stop).
func (b *Broker) Subscribe(ctx context.Context, q string, cfg queue.SubscribeConfig, h queue.Handler) (queue.Subscription, error) {
	if b.isClosed() {
		return nil, queue.ErrClosed
	}
	if err := queue.ValidateQueue(q); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, errors.New("queuenats: nil handler")
	}
	conc := max(cfg.Concurrency, 1)
	c, err := b.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       b.consumerName(q),
		FilterSubject: b.subject(q),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cmp.Or(cfg.AckWait, DefaultAckWait),
		MaxDeliver:    -1,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("queuenats: consumer %s: %w", q, err)
	}
	s := &subscription{
		b:     b,
		queue: q,
		h:     h,
		sem:   make(chan struct{}, conc),
		done:  make(chan struct{}),
		log:   b.log.With(slog.String("queue", q)),
	}
	// Handlers keep ctx's values but not its cancellation, which is a hard
	// stop handled by AfterFunc below.
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))

	// Consume, unlike Messages, never drops a message when its buffer is
	// full: Messages' fixed-size channel can overflow with status messages
	// and lose a delivery until AckWait. The callback blocks while every
	// handler is busy, which is what bounds the prefetch.
	s.cc, err = c.Consume(s.dispatch,
		jetstream.PullMaxMessages(conc),
		jetstream.PullExpiry(pullExpiry),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			s.log.WarnContext(s.ctx, "queuenats: consume", slog.Any("error", err))
		}),
	)
	if err != nil {
		s.cancel()
		return nil, fmt.Errorf("queuenats: consume %s: %w", q, err)
	}

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		s.cc.Stop()
		s.cancel()
		return nil, queue.ErrClosed
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()

	stopAfter := context.AfterFunc(ctx, s.hardStop)
	go func() {
		defer close(s.done)
		defer stopAfter()
		defer b.forget(s)
		defer s.cancel()
		<-s.cc.Closed()
		// Closed may not wait for a callback that is still returning.
		s.mu.Lock()
		s.waiting = true
		s.mu.Unlock()
		s.wg.Wait()
	}()
	return s, nil
}

type subscription struct {
	b      *Broker
	queue  string
	cc     jetstream.ConsumeContext
	h      queue.Handler
	sem    chan struct{}
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	waiting bool           // set before wg.Wait; no wg.Go after it
	wg      sync.WaitGroup // handlers

	drainOnce sync.Once
	stopOnce  sync.Once
}

// dispatch is the Consume callback. It takes a handler slot first, so that
// at most Concurrency handlers run and the rest wait in the client buffer.
func (s *subscription) dispatch(m jetstream.Msg) {
	select {
	case s.sem <- struct{}{}:
	case <-s.ctx.Done():
		// Hard stop: hand the message back now rather than after AckWait.
		_ = m.Nak()
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waiting {
		<-s.sem
		_ = m.Nak()
		return
	}
	s.wg.Go(func() {
		defer func() { <-s.sem }()
		s.handle(m)
	})
}

func (s *subscription) handle(m jetstream.Msg) {
	d := newDelivery(s.queue, m)
	s.h.Handle(s.ctx, d)
	if d.isSettled() {
		return
	}
	// The handler broke the contract; Nak so the message comes back now
	// rather than after AckWait. If even that fails, AckWait still does.
	if err := d.Nak(s.ctx, 0); err != nil && !errors.Is(err, queue.ErrAlreadySettled) {
		s.log.WarnContext(s.ctx, "queuenats: nak unsettled delivery", slog.String("message_id", d.msg.ID), slog.Any("error", err))
	}
}

// Stop drains: no new pulls, buffered messages are still handled, then it
// waits for handlers within ctx. If ctx ends first it hard-stops.
func (s *subscription) Stop(ctx context.Context) error {
	s.drainOnce.Do(s.cc.Drain)
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		s.hardStop()
		return fmt.Errorf("queuenats: stop %s: %w", s.queue, ctx.Err())
	}
}

// hardStop discards buffered messages (they return after AckWait) and
// cancels handler contexts.
func (s *subscription) hardStop() {
	s.stopOnce.Do(func() {
		s.cancel()
		s.cc.Stop()
	})
}

// pullExpiry bounds each pull request. Under concurrent publishing the
// server sometimes leaves a pull request unfilled while messages are
// pending (seen with nats-server 2.x, both Consume and Messages); the
// client only notices when the request expires, so a short expiry bounds
// that stall. The cost is one idle pull request per subscriber per expiry.
const pullExpiry = 2 * time.Second
