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
// and hands each message to h on one of cfg.Concurrency long-lived
// goroutines. All subscribers of a queue share that consumer, so they
// compete for messages. The consumer's AckWait is the one from the most
// recent Subscribe.
//
// The subscription asks for at most as many messages as it has idle
// handlers, so it holds none beyond those being handled: a message it
// cannot start at once stays on the server for other subscribers. It runs
// until Stop, Close, or the cancellation of ctx (a hard stop).
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
		queue:    q,
		c:        c,
		h:        h,
		sem:      make(chan struct{}, conc),
		work:     make(chan jetstream.Msg),
		done:     make(chan struct{}),
		draining: make(chan struct{}),
		log:      b.log.With(slog.String("queue", q)),
	}
	// Handlers keep ctx's values but not its cancellation, which is a hard
	// stop handled by AfterFunc below.
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.fetchCtx, s.fetchStop = context.WithCancel(s.ctx)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		s.cancel()
		return nil, queue.ErrClosed
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()

	for range conc {
		s.workers.Go(s.worker)
	}
	stopAfter := context.AfterFunc(ctx, s.hardStop)
	go func() {
		defer close(s.done)
		defer stopAfter()
		defer b.forget(s)
		defer s.cancel()
		s.fetchLoop()
		close(s.work) // the fetch loop was its only sender
		s.workers.Wait()
	}()
	return s, nil
}

type subscription struct {
	queue string
	c     jetstream.Consumer
	h     queue.Handler
	log   *slog.Logger
	// sem holds one token per handler slot that is busy or reserved by the
	// fetch loop for a message it has asked for.
	sem chan struct{}
	// work hands fetched messages to the workers.
	work    chan jetstream.Msg
	workers sync.WaitGroup
	// draining is closed by Stop: no new fetches.
	draining  chan struct{}
	fetchCtx  context.Context
	fetchStop context.CancelFunc
	// ctx is the handlers' context; cancel is the hard stop.
	ctx    context.Context
	cancel context.CancelFunc
	// done is closed once the fetch loop and every handler have returned.
	done chan struct{}

	drainOnce sync.Once
	stopOnce  sync.Once
}

// fetchLoop pulls as many messages as there are free handler slots, with
// one pull request at a time. A pull request is answered as soon as a
// message is available, so an idle subscriber hands a new message to its
// handler with no polling delay; and since a subscriber never asks for more
// than it can handle, other subscribers get their share (no prefetch that
// would sit out AckWait on a busy process).
//
// The streaming pull (Consumer.Consume) measured no cheaper on a bare task
// chain, and in nats.go v1.55.0 it can skip a refill (one that races with
// the previous request being sent) and then deliver nothing until two
// heartbeats are missed.
func (s *subscription) fetchLoop() {
	backoff := 10 * time.Millisecond
	for {
		// Wait for at least one free slot.
		select {
		case s.sem <- struct{}{}:
		case <-s.ctx.Done():
			return
		case <-s.draining:
			return
		}
		free := 1
		for free < cap(s.sem) {
			select {
			case s.sem <- struct{}{}:
				free++
				continue
			default:
			}
			break
		}
		fctx, cancel := context.WithTimeout(s.fetchCtx, fetchWait)
		batch, err := s.c.Fetch(free, jetstream.FetchContext(fctx), jetstream.FetchHeartbeat(fetchWait/4))
		if err != nil {
			cancel()
			s.release(free)
			if !s.sleep(backoff) {
				return
			}
			backoff = min(backoff*2, time.Second)
			continue
		}
		got := 0
		for m := range batch.Messages() {
			got++
			s.work <- m // a worker is free, or about to be: m has a slot
		}
		cancel()
		s.release(free - got)
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			if s.ctx.Err() != nil {
				return
			}
			s.log.DebugContext(s.ctx, "queuenats: fetch", slog.Any("error", err))
			if got == 0 && !s.sleep(backoff) {
				return
			}
			backoff = min(backoff*2, time.Second)
			continue
		}
		backoff = 10 * time.Millisecond
	}
}

func (s *subscription) release(n int) {
	for range n {
		<-s.sem
	}
}

func (s *subscription) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	case <-s.draining:
		return false
	}
}

// worker handles messages until the fetch loop has ended, freeing the
// message's slot after each. Workers live as long as the subscription so
// that their stacks, grown by deep handlers, are reused instead of grown
// again for every message.
func (s *subscription) worker() {
	for m := range s.work {
		s.handle(m)
		<-s.sem
	}
}

func (s *subscription) handle(m jetstream.Msg) {
	if s.ctx.Err() != nil {
		// Fetched but not started before a hard stop: hand it back for
		// another subscriber now rather than after AckWait.
		if err := m.Nak(); err != nil {
			s.log.DebugContext(s.ctx, "queuenats: nak unhandled message", slog.Any("error", err))
		}
		return
	}
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

// Stop drains: no new pulls, fetched messages are still handled, then it
// waits for handlers within ctx. If ctx ends first it hard-stops.
func (s *subscription) Stop(ctx context.Context) error {
	s.drainOnce.Do(func() { close(s.draining); s.fetchStop() })
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		s.hardStop()
		return fmt.Errorf("queuenats: stop %s: %w", s.queue, ctx.Err())
	}
}

// hardStop cancels handler contexts; fetched messages that no handler has
// started are handed back (Nak).
func (s *subscription) hardStop() {
	s.stopOnce.Do(s.cancel)
}

// fetchWait bounds one pull request; an idle subscriber renews it this
// often. Messages arriving meanwhile are delivered at once.
const fetchWait = 5 * time.Second
