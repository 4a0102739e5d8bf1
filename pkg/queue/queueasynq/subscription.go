package queueasynq

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/ia-modules/ia-go/pkg/queue"
)

// Subscribe starts an asynq server on q's three asynq queues with strict
// priority (high, then normal, then low) and cfg.Concurrency workers. Each
// subscription is its own asynq server, so subscribers compete for tasks.
//
// asynq has no ack deadline of its own, so AckWait is enforced here: a
// delivery that is not settled, nor extended by InProgress, within AckWait
// is handed back to asynq as failed and redelivered at once, while the
// handler, whose context stays live, may still be running. It runs until
// Stop, Close, or the cancellation of ctx (a hard stop).
func (b *Broker) Subscribe(ctx context.Context, q string, cfg queue.SubscribeConfig, h queue.Handler) (queue.Subscription, error) {
	if err := queue.ValidateQueue(q); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, errors.New("queueasynq: nil handler")
	}
	if !b.touch(q) {
		return nil, queue.ErrClosed
	}
	s := &subscription{
		b:        b,
		queue:    q,
		h:        h,
		ackWait:  cmp.Or(cfg.AckWait, DefaultAckWait),
		done:     make(chan struct{}),
		stopping: make(chan struct{}),
		log:      b.log.With(slog.String("queue", q)),
	}
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	names := b.asynqQueues(q)
	s.srv = asynq.NewServerFromRedisClient(b.rdb, asynq.Config{
		Concurrency: max(cfg.Concurrency, 1),
		Queues: map[string]int{
			names[0]: 3,
			names[1]: 2,
			names[2]: 1,
		},
		StrictPriority:           true,
		TaskCheckInterval:        b.cfg.TaskCheckInterval,
		DelayedTaskCheckInterval: b.cfg.DelayedTaskCheckInterval,
		RetryDelayFunc:           retryDelay,
		ShutdownTimeout:          shutdownTimeout,
		Logger:                   slogAdapter{s.log},
		LogLevel:                 asynq.WarnLevel,
	})
	if err := s.srv.Start(asynq.HandlerFunc(s.process)); err != nil {
		s.cancel()
		return nil, fmt.Errorf("queueasynq: start server for %s: %w", q, err)
	}

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		s.cancel()
		s.srv.Shutdown()
		return nil, queue.ErrClosed
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()

	stopAfter := context.AfterFunc(ctx, s.hardStop)
	go func() {
		defer close(s.done)
		defer stopAfter()
		defer b.forget(s)
		<-s.stopping
		s.srv.Stop()
		// asynq may still start a task it dequeued just before Stop; from
		// here on process hands such tasks straight back.
		s.mu.Lock()
		s.draining = true
		s.mu.Unlock()
		s.wg.Wait()
		s.srv.Shutdown()
		s.cancel()
	}()
	return s, nil
}

type subscription struct {
	b        *Broker
	queue    string
	h        queue.Handler
	ackWait  time.Duration
	srv      *asynq.Server
	log      *slog.Logger
	ctx      context.Context
	cancel   context.CancelFunc
	mu       sync.Mutex
	draining bool           // set before wg.Wait; no wg.Add after it
	wg       sync.WaitGroup // handler goroutines
	done     chan struct{}

	stopping     chan struct{}
	stoppingOnce sync.Once
	hardOnce     sync.Once
}

// process is the asynq handler. It runs the queue handler on its own
// goroutine and turns the first outcome into asynq's language: nil for Ack,
// SkipRetry for Term, a nakError (delay read by retryDelay) for Nak, an
// expired AckWait or a handler that returned unsettled.
func (s *subscription) process(actx context.Context, t *asynq.Task) error {
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		return &nakError{why: "subscription stopping"}
	}
	d := newDelivery(actx, s.queue, t)
	s.wg.Go(func() {
		s.h.Handle(s.ctx, d)
		d.finish()
	})
	s.mu.Unlock()
	timer := time.NewTimer(s.ackWait)
	defer timer.Stop()
	for {
		select {
		case err := <-d.outcome:
			return err
		case <-d.progress:
			timer.Reset(s.ackWait)
		case <-timer.C:
			if err, ok := d.expire(); ok {
				return err
			}
		case <-s.ctx.Done():
			// Hard stop: wait for the handler to observe it and settle or
			// return, which keeps asynq's bookkeeping exact.
			return <-d.outcome
		}
	}
}

// Stop stops polling, waits for in-flight handlers within ctx, then shuts
// the asynq server down. If ctx ends first it hard-stops.
func (s *subscription) Stop(ctx context.Context) error {
	s.beginStop()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		s.hardStop()
		return fmt.Errorf("queueasynq: stop %s: %w", s.queue, ctx.Err())
	}
}

func (s *subscription) beginStop() {
	s.stoppingOnce.Do(func() { close(s.stopping) })
}

// hardStop cancels handler contexts; unsettled deliveries go back to asynq
// for redelivery.
func (s *subscription) hardStop() {
	s.hardOnce.Do(func() {
		s.cancel()
		s.beginStop()
	})
}

// nakError carries a Nak's delay to retryDelay through asynq.
type nakError struct {
	delay time.Duration
	why   string
}

func (e *nakError) Error() string { return "queueasynq: " + e.why }

// retryDelay is asynq's RetryDelayFunc: the Nak's delay, or 0 for anything
// else (a task recovered from a dead worker comes back at once). asynq
// stores retry times in whole seconds, so delays round down to a second.
func retryDelay(_ int, err error, _ *asynq.Task) time.Duration {
	if ne, ok := errors.AsType[*nakError](err); ok {
		return ne.delay
	}
	return 0
}

// slogAdapter routes asynq's own logs to slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Debug(args ...any) { a.l.Debug("queueasynq: asynq: " + fmt.Sprint(args...)) }
func (a slogAdapter) Info(args ...any)  { a.l.Info("queueasynq: asynq: " + fmt.Sprint(args...)) }
func (a slogAdapter) Warn(args ...any)  { a.l.Warn("queueasynq: asynq: " + fmt.Sprint(args...)) }
func (a slogAdapter) Error(args ...any) { a.l.Error("queueasynq: asynq: " + fmt.Sprint(args...)) }

// Fatal logs at Error: a library must not exit the process; asynq only
// calls it from Run, which the broker does not use.
func (a slogAdapter) Fatal(args ...any) { a.Error(args...) }
