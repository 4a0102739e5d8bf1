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

// errorBackoff spaces out retries when the message iterator keeps failing
// (for example while the server restarts), so the loop does not spin.
const errorBackoff = 100 * time.Millisecond

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
	it, err := c.Messages(
		jetstream.PullMaxMessages(conc),
		jetstream.WithMessagesErrOnMissingHeartbeat(false),
	)
	if err != nil {
		return nil, fmt.Errorf("queuenats: consume %s: %w", q, err)
	}
	s := &subscription{
		b:     b,
		queue: q,
		it:    it,
		h:     h,
		sem:   make(chan struct{}, conc),
		done:  make(chan struct{}),
		log:   b.log.With(slog.String("queue", q)),
	}
	// Handlers keep ctx's values but not its cancellation, which is a hard
	// stop handled by AfterFunc below.
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		it.Stop()
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
		s.run()
		s.wg.Wait()
	}()
	return s, nil
}

type subscription struct {
	b      *Broker
	queue  string
	it     jetstream.MessagesContext
	h      queue.Handler
	sem    chan struct{}
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{}

	drainOnce sync.Once
	stopOnce  sync.Once
}

// run dispatches messages until the iterator is closed. A slot is taken
// before Next so that no message is pulled out of the buffer while every
// handler is busy.
func (s *subscription) run() {
	for {
		select {
		case s.sem <- struct{}{}:
		case <-s.ctx.Done():
			return
		}
		m, err := s.it.Next()
		if err != nil {
			<-s.sem
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			s.log.WarnContext(s.ctx, "queuenats: next message", slog.Any("error", err))
			select {
			case <-time.After(errorBackoff):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		s.wg.Go(func() {
			defer func() { <-s.sem }()
			s.handle(m)
		})
	}
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
	s.drainOnce.Do(s.it.Drain)
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
		s.it.Stop()
		s.cancel()
	})
}
