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
		b:        b,
		queue:    q,
		h:        h,
		sem:      make(chan struct{}, conc),
		done:     make(chan struct{}),
		draining: make(chan struct{}),
		log:      b.log.With(slog.String("queue", q)),
	}
	// Handlers keep ctx's values but not its cancellation, which is a hard
	// stop handled by AfterFunc below.
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))

	s.c = c
	s.fetching = make(chan struct{})
	s.fetchCtx, s.fetchStop = context.WithCancel(s.ctx)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		s.cancel()
		return nil, queue.ErrClosed
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	go s.fetchLoop()

	stopAfter := context.AfterFunc(ctx, s.hardStop)
	go func() {
		defer close(s.done)
		defer stopAfter()
		defer b.forget(s)
		defer s.cancel()
		<-s.fetching
		s.mu.Lock()
		s.waiting = true
		s.mu.Unlock()
		s.wg.Wait()
	}()
	return s, nil
}

type subscription struct {
	b     *Broker
	queue string
	c     jetstream.Consumer
	h     queue.Handler
	// draining is closed by Stop: no new fetches; fetching is closed when
	// the fetch loop has returned.
	draining  chan struct{}
	fetching  chan struct{}
	fetchCtx  context.Context
	fetchStop context.CancelFunc
	sem       chan struct{}
	log       *slog.Logger
	ctx       context.Context
	cancel    context.CancelFunc
	done      chan struct{}

	mu      sync.Mutex
	waiting bool           // set before wg.Wait; no wg.Go after it
	wg      sync.WaitGroup // handlers

	drainOnce sync.Once
	stopOnce  sync.Once
}

// fetchLoop pulls as many messages as there are free handler slots, with
// one pull request at a time. A pull request is answered as soon as a
// message is available, so an idle subscriber hands a new message to its
// handler with no polling delay; and since a subscriber never asks for more
// than it can handle, other subscribers get their share (no prefetch that
// would sit out AckWait on a busy process).
func (s *subscription) fetchLoop() {
	defer close(s.fetching)
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
			s.start(m)
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

// start runs the handler for m in the slot the fetch loop reserved.
func (s *subscription) start(m jetstream.Msg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waiting || s.ctx.Err() != nil {
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
	s.drainOnce.Do(func() { close(s.draining); s.fetchStop() })
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
	})
}

// fetchWait bounds one pull request; an idle subscriber renews it this
// often. Messages arriving meanwhile are delivered at once.
const fetchWait = 5 * time.Second
