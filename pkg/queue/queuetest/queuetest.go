package queuetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/internal/testenv"
	"github.com/ia-modules/ia-go/pkg/queue"
)

// waitTimeout bounds every wait for a delivery; generous for CI under -race.
const waitTimeout = 15 * time.Second

// Option switches off a capability the backend does not have.
type Option func(*options)

type options struct {
	noPriority bool
}

// WithoutPriority skips the priority-order subtest, for backends that
// deliver in publish order regardless of Message.Priority.
func WithoutPriority() Option { return func(o *options) { o.noPriority = true } }

// got is one observed delivery.
type got struct {
	msg queue.Message
	n   int
	err error // from the handler's settle call, checked on the test goroutine
}

// Exercise runs the conformance suite. newBroker must return a new broker
// isolated from every other call and arrange its Close with t.Cleanup.
func Exercise(t *testing.T, newBroker func(t *testing.T) queue.Broker, opts ...Option) {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}

	type testBundle struct {
		b queue.Broker
		q string
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		return &testBundle{b: newBroker(t), q: testenv.Name("q")}
	}

	t.Run("PublishDeliverOnce", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		m := newMessage(bundle.q, "hello")
		m.Headers = map[string]string{"run_id": "r1", "Step-Id": "s1"}
		publish(t, bundle.b, m)

		ch := make(chan got, 16)
		subscribe(t, bundle.b, bundle.q, queue.SubscribeConfig{}, ackAll(ch))
		g := recv(t, ch)
		require.NoError(t, g.err)
		require.Equal(t, m, g.msg)
		require.Equal(t, 1, g.n)

		requireOnlySentinelNext(t, bundle.b, bundle.q, ch)
	})

	t.Run("DuplicateIDDeliveredOnce", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		m := newMessage(bundle.q, "first")
		publish(t, bundle.b, m)
		dup := m
		dup.Body = []byte("second")
		publish(t, bundle.b, dup)

		ch := make(chan got, 16)
		subscribe(t, bundle.b, bundle.q, queue.SubscribeConfig{}, ackAll(ch))
		g := recv(t, ch)
		require.Equal(t, m.ID, g.msg.ID)
		require.Equal(t, "first", string(g.msg.Body))
		requireOnlySentinelNext(t, bundle.b, bundle.q, ch)

		// Also after the first copy is settled, within the window.
		publish(t, bundle.b, dup)
		requireOnlySentinelNext(t, bundle.b, bundle.q, ch)
	})

	// publishTogether checks a publish of several messages at once: each
	// gets its own outcome, a duplicate ID is a success delivered once,
	// an invalid message fails alone.
	publishTogether := func(t *testing.T, publishAll func(t *testing.T, b queue.Broker, ms []queue.Message) []error) {
		t.Helper()
		bundle := setup(t)
		first := newMessage(bundle.q, "first")
		publish(t, bundle.b, first)
		dup := first
		dup.Body = []byte("again")
		ms := []queue.Message{dup, {ID: "bad", Queue: "a.b"}}
		for i := range 20 {
			ms = append(ms, newMessage(bundle.q, fmt.Sprint(i)))
		}
		errs := publishAll(t, bundle.b, ms)
		require.Len(t, errs, len(ms))
		require.NoError(t, errs[0], "a duplicate is a success")
		require.ErrorIs(t, errs[1], queue.ErrInvalidQueue)
		for i := 2; i < len(ms); i++ {
			require.NoError(t, errs[i])
		}

		ch := make(chan got, 64)
		subscribe(t, bundle.b, bundle.q, queue.SubscribeConfig{Concurrency: 4}, ackAll(ch))
		seen := map[string]string{}
		for range 21 {
			g := recv(t, ch)
			require.NotContains(t, seen, g.msg.ID, "delivered twice")
			seen[g.msg.ID] = string(g.msg.Body)
		}
		require.Equal(t, "first", seen[first.ID])
		for _, m := range ms[2:] {
			require.Equal(t, string(m.Body), seen[m.ID])
		}
		requireOnlySentinelNext(t, bundle.b, bundle.q, ch)
	}

	t.Run("PublishBatch", func(t *testing.T) {
		t.Parallel()
		publishTogether(t, func(t *testing.T, b queue.Broker, ms []queue.Message) []error {
			bp, ok := b.(queue.BatchPublisher)
			if !ok {
				t.Skipf("%T does not implement queue.BatchPublisher", b)
			}
			return bp.PublishBatch(t.Context(), ms)
		})
	})

	t.Run("PublishAll", func(t *testing.T) {
		// Batched where the broker can, concurrent publishes elsewhere.
		t.Parallel()
		publishTogether(t, func(t *testing.T, b queue.Broker, ms []queue.Message) []error {
			return queue.PublishAll(t.Context(), b, ms)
		})
	})

	t.Run("CompetingSubscribers", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		const n = 40
		ch := make(chan got, 2*n)
		cfg := queue.SubscribeConfig{Concurrency: 2}
		sub1 := subscribe(t, bundle.b, bundle.q, cfg, ackAll(ch))
		sub2 := subscribe(t, bundle.b, bundle.q, cfg, ackAll(ch))
		for i := range n {
			publish(t, bundle.b, newMessage(bundle.q, fmt.Sprint(i)))
		}
		seen := make(map[string]bool, n)
		for len(seen) < n {
			g := recv(t, ch)
			require.NoError(t, g.err)
			require.False(t, seen[g.msg.ID], "message %s delivered twice", g.msg.ID)
			seen[g.msg.ID] = true
		}
		stop(t, sub1)
		stop(t, sub2)
		require.Empty(t, ch, "extra deliveries after every message was acked")
	})

	t.Run("NakRedelivers", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		ch := make(chan got, 16)
		m := newMessage(bundle.q, "nak me")
		subscribe(t, bundle.b, bundle.q, queue.SubscribeConfig{}, queue.HandlerFunc(func(ctx context.Context, d queue.Delivery) {
			var err error
			// Only m: a Nak'd sentinel would come back after the check
			// that nothing follows it.
			if d.Message().ID == m.ID && d.NumDelivered() == 1 {
				err = d.Nak(ctx, 0)
			} else {
				err = d.Ack(ctx)
			}
			ch <- got{msg: d.Message(), n: d.NumDelivered(), err: err}
		}))
		publish(t, bundle.b, m)

		g := recv(t, ch)
		require.NoError(t, g.err)
		require.Equal(t, 1, g.n)
		g = recv(t, ch)
		require.NoError(t, g.err)
		require.Equal(t, m.ID, g.msg.ID)
		require.Equal(t, 2, g.n)
		requireOnlySentinelNext(t, bundle.b, bundle.q, ch)
	})

	t.Run("UnsettledRedeliveredAfterAckWait", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		const ackWait = time.Second
		release := make(chan struct{})
		defer close(release) // before the subscription's cleanup Stop
		ch := make(chan got, 16)
		cfg := queue.SubscribeConfig{Concurrency: 2, AckWait: ackWait}
		subscribe(t, bundle.b, bundle.q, cfg, queue.HandlerFunc(func(ctx context.Context, d queue.Delivery) {
			if d.NumDelivered() == 1 {
				ch <- got{msg: d.Message(), n: 1}
				select { // hold it unsettled, like a hung worker
				case <-release:
				case <-ctx.Done():
				}
				return
			}
			err := d.Ack(ctx)
			ch <- got{msg: d.Message(), n: d.NumDelivered(), err: err}
		}))
		m := newMessage(bundle.q, "slow")
		publish(t, bundle.b, m)

		g := recv(t, ch)
		require.Equal(t, 1, g.n)
		start := time.Now()
		g = recv(t, ch)
		require.NoError(t, g.err)
		require.Equal(t, m.ID, g.msg.ID)
		require.Equal(t, 2, g.n)
		require.GreaterOrEqual(t, time.Since(start), ackWait/2, "redelivered before AckWait")
	})

	t.Run("InProgressPreventsRedelivery", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		const ackWait = time.Second
		ch := make(chan got, 16)
		cfg := queue.SubscribeConfig{Concurrency: 2, AckWait: ackWait}
		subscribe(t, bundle.b, bundle.q, cfg, queue.HandlerFunc(func(ctx context.Context, d queue.Delivery) {
			if d.Message().Body != nil && string(d.Message().Body) == "long" && d.NumDelivered() == 1 {
				ch <- got{msg: d.Message(), n: 1}
				// Work for 2.5 AckWaits, heartbeating at a quarter of it.
				tick := time.NewTicker(ackWait / 4)
				defer tick.Stop()
				deadline := time.After(ackWait * 5 / 2)
				for {
					select {
					case <-tick.C:
						if err := d.InProgress(ctx); err != nil {
							ch <- got{msg: d.Message(), n: 1, err: err}
							return
						}
						continue
					case <-deadline:
					case <-ctx.Done():
					}
					break
				}
			}
			err := d.Ack(ctx)
			ch <- got{msg: d.Message(), n: d.NumDelivered(), err: err}
		}))
		m := newMessage(bundle.q, "long")
		publish(t, bundle.b, m)

		g := recv(t, ch)
		require.Equal(t, 1, g.n)
		g = recv(t, ch) // the ack after the long work, not a redelivery
		require.NoError(t, g.err)
		require.Equal(t, m.ID, g.msg.ID)
		require.Equal(t, 1, g.n)
		requireOnlySentinelNext(t, bundle.b, bundle.q, ch)
	})

	t.Run("TermNeverRedelivers", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		ch := make(chan got, 16)
		m := newMessage(bundle.q, "poison")
		subscribe(t, bundle.b, bundle.q, queue.SubscribeConfig{}, queue.HandlerFunc(func(ctx context.Context, d queue.Delivery) {
			var err error
			if d.Message().ID == m.ID {
				err = d.Term(ctx)
			} else {
				err = d.Ack(ctx)
			}
			ch <- got{msg: d.Message(), n: d.NumDelivered(), err: err}
		}))
		publish(t, bundle.b, m)
		g := recv(t, ch)
		require.NoError(t, g.err)
		require.Equal(t, m.ID, g.msg.ID)
		requireOnlySentinelNext(t, bundle.b, bundle.q, ch)
		requireSettledStats(t, bundle.b, bundle.q)
	})

	t.Run("SettleTwice", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		ch := make(chan got, 16)
		subscribe(t, bundle.b, bundle.q, queue.SubscribeConfig{}, queue.HandlerFunc(func(ctx context.Context, d queue.Delivery) {
			if err := d.Ack(ctx); err != nil {
				ch <- got{err: err}
				return
			}
			ch <- got{msg: d.Message(), n: d.NumDelivered(), err: d.Term(ctx)}
		}))
		publish(t, bundle.b, newMessage(bundle.q, "x"))
		g := recv(t, ch)
		require.ErrorIs(t, g.err, queue.ErrAlreadySettled)
	})

	t.Run("StopWaitsForHandlers", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		started := make(chan struct{})
		release := make(chan struct{})
		var returned atomic.Bool
		sub := subscribe(t, bundle.b, bundle.q, queue.SubscribeConfig{}, queue.HandlerFunc(func(ctx context.Context, d queue.Delivery) {
			close(started)
			<-release
			_ = d.Ack(ctx)
			returned.Store(true)
		}))
		publish(t, bundle.b, newMessage(bundle.q, "in flight"))
		waitClosed(t, started)

		stopped := make(chan error, 1)
		go func() { stopped <- sub.Stop(context.Background()) }()
		// A negative check: nothing signals "Stop is still waiting".
		select {
		case err := <-stopped:
			t.Fatalf("Stop returned (%v) while a handler was running", err)
		case <-time.After(100 * time.Millisecond):
		}
		close(release)
		select {
		case err := <-stopped:
			require.NoError(t, err)
		case <-time.After(waitTimeout):
			t.Fatal("Stop did not return after the handler did")
		}
		require.True(t, returned.Load())
		require.NoError(t, sub.Stop(t.Context()), "second Stop")
	})

	t.Run("Stats", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		st, err := bundle.b.Stats(t.Context(), bundle.q)
		require.NoError(t, err)
		require.Equal(t, queue.Stats{Queue: bundle.q}, st, "unused queue")

		for i := range 3 {
			publish(t, bundle.b, newMessage(bundle.q, fmt.Sprint(i)))
		}
		st, err = bundle.b.Stats(t.Context(), bundle.q)
		require.NoError(t, err)
		require.Equal(t, queue.Stats{Queue: bundle.q, Pending: 3}, st)

		release := make(chan struct{})
		ch := make(chan got, 16)
		subscribe(t, bundle.b, bundle.q, queue.SubscribeConfig{}, queue.HandlerFunc(func(ctx context.Context, d queue.Delivery) {
			ch <- got{msg: d.Message()}
			<-release
			ch <- got{msg: d.Message(), err: d.Ack(ctx)}
		}))
		recv(t, ch)
		st, err = bundle.b.Stats(t.Context(), bundle.q)
		require.NoError(t, err)
		require.EqualValues(t, 3, st.Pending+st.InFlight, "stats %+v", st)
		require.GreaterOrEqual(t, st.InFlight, int64(1), "stats %+v", st)

		close(release)
		for range 5 { // two more starts and three acks
			require.NoError(t, recv(t, ch).err)
		}
		requireSettledStats(t, bundle.b, bundle.q)
	})

	t.Run("PriorityOrder", func(t *testing.T) {
		t.Parallel()
		if o.noPriority {
			t.Skip("backend does not order by priority (WithoutPriority)")
		}
		bundle := setup(t)
		var want []string
		for i, p := range []queue.Priority{queue.PriorityLow, queue.PriorityNormal, queue.PriorityHigh, queue.PriorityLow, queue.PriorityHigh} {
			m := newMessage(bundle.q, fmt.Sprintf("%d:%d", p, i))
			m.Priority = p
			publish(t, bundle.b, m)
		}
		want = []string{"1:2", "1:4", "0:1", "-1:0", "-1:3"}
		ch := make(chan got, 16)
		subscribe(t, bundle.b, bundle.q, queue.SubscribeConfig{Concurrency: 1}, ackAll(ch))
		var order []string
		for range want {
			g := recv(t, ch)
			require.NoError(t, g.err)
			order = append(order, string(g.msg.Body))
		}
		require.Equal(t, want, order)
	})

	t.Run("Closed", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		require.NoError(t, bundle.b.Close())
		err := bundle.b.Publish(t.Context(), newMessage(bundle.q, "late"))
		require.ErrorIs(t, err, queue.ErrClosed)
		_, err = bundle.b.Subscribe(t.Context(), bundle.q, queue.SubscribeConfig{}, ackAll(nil))
		require.ErrorIs(t, err, queue.ErrClosed)
		_, err = bundle.b.Stats(t.Context(), bundle.q)
		require.ErrorIs(t, err, queue.ErrClosed)
		require.NoError(t, bundle.b.Close(), "second Close")
	})

	t.Run("CloseStopsSubscriptions", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		started := make(chan struct{})
		ctxDone := make(chan struct{})
		_, err := bundle.b.Subscribe(t.Context(), bundle.q, queue.SubscribeConfig{}, queue.HandlerFunc(func(ctx context.Context, d queue.Delivery) {
			close(started)
			<-ctx.Done() // Close is a hard stop: it cancels handler contexts
			close(ctxDone)
		}))
		require.NoError(t, err)
		publish(t, bundle.b, newMessage(bundle.q, "x"))
		waitClosed(t, started)
		require.NoError(t, bundle.b.Close())
		waitClosed(t, ctxDone)
	})

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		tests := []struct {
			name string
			m    queue.Message
			want error
		}{
			{"EmptyQueue", queue.Message{ID: "x"}, queue.ErrInvalidQueue},
			{"DottedQueue", queue.Message{ID: "x", Queue: "a.b"}, queue.ErrInvalidQueue},
			{"WildcardQueue", queue.Message{ID: "x", Queue: "a*"}, queue.ErrInvalidQueue},
			{"EmptyID", queue.Message{Queue: bundle.q}, queue.ErrInvalidMessage},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				require.ErrorIs(t, bundle.b.Publish(t.Context(), tt.m), tt.want)
			})
		}
		_, err := bundle.b.Subscribe(t.Context(), "a>b", queue.SubscribeConfig{}, ackAll(nil))
		require.ErrorIs(t, err, queue.ErrInvalidQueue)
	})

	t.Run("ManyConcurrent", func(t *testing.T) {
		t.Parallel()
		bundle := setup(t)
		const n, publishers = 2000, 8
		var (
			mu     sync.Mutex
			counts = make(map[string]int, n)
			errs   []error
			done   = make(chan struct{})
		)
		subscribe(t, bundle.b, bundle.q, queue.SubscribeConfig{Concurrency: 8}, queue.HandlerFunc(func(ctx context.Context, d queue.Delivery) {
			err := d.Ack(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			counts[d.Message().ID]++
			if len(counts) == n && counts[d.Message().ID] == 1 {
				close(done)
			}
		}))
		ids := make([]string, n)
		for i := range ids {
			ids[i] = uuid.NewString()
		}
		var wg sync.WaitGroup
		pubErrs := make(chan error, publishers)
		for p := range publishers {
			wg.Go(func() {
				for i := p; i < n; i += publishers {
					m := queue.Message{ID: ids[i], Queue: bundle.q, Body: []byte(ids[i])}
					if err := bundle.b.Publish(t.Context(), m); err != nil {
						pubErrs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(pubErrs)
		for err := range pubErrs {
			require.NoError(t, err)
		}
		select {
		case <-done:
		case <-time.After(4 * waitTimeout):
			mu.Lock()
			defer mu.Unlock()
			st, err := bundle.b.Stats(context.Background(), bundle.q)
			t.Fatalf("only %d of %d messages delivered; stats %+v %v", len(counts), n, st, err)
		}
		mu.Lock()
		defer mu.Unlock()
		require.Empty(t, errs)
		for _, id := range ids {
			require.Equal(t, 1, counts[id], "message %s", id)
		}
	})
}

func newMessage(q, body string) queue.Message {
	return queue.Message{ID: uuid.NewString(), Queue: q, Body: []byte(body)}
}

func publish(t *testing.T, b queue.Broker, m queue.Message) {
	t.Helper()
	require.NoError(t, b.Publish(t.Context(), m))
}

// subscribe starts a subscription and stops it at cleanup.
func subscribe(t *testing.T, b queue.Broker, q string, cfg queue.SubscribeConfig, h queue.Handler) queue.Subscription {
	t.Helper()
	sub, err := b.Subscribe(t.Context(), q, cfg, h)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		require.NoError(t, sub.Stop(ctx))
	})
	return sub
}

func stop(t *testing.T, sub queue.Subscription) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	require.NoError(t, sub.Stop(ctx))
}

// ackAll acks every delivery and then reports it on ch (if not nil).
func ackAll(ch chan<- got) queue.Handler {
	return queue.HandlerFunc(func(ctx context.Context, d queue.Delivery) {
		err := d.Ack(ctx)
		if ch != nil {
			ch <- got{msg: d.Message(), n: d.NumDelivered(), err: err}
		}
	})
}

func recv(t *testing.T, ch <-chan got) got {
	t.Helper()
	select {
	case g := <-ch:
		return g
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting for a delivery")
		return got{}
	}
}

func waitClosed(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting for a signal")
	}
}

// requireOnlySentinelNext publishes a fresh message and requires that it is
// the next delivery: with FIFO queues and an idle subscriber, a message that
// was to be (re)delivered again would have come first.
func requireOnlySentinelNext(t *testing.T, b queue.Broker, q string, ch <-chan got) {
	t.Helper()
	s := newMessage(q, "sentinel")
	publish(t, b, s)
	var extra []string
	for {
		g := recv(t, ch)
		if g.msg.ID == s.ID {
			require.NoError(t, g.err)
			break
		}
		extra = append(extra, fmt.Sprintf("%s (delivery %d)", g.msg.ID, g.n))
	}
	require.Empty(t, extra, "unexpected deliveries before the sentinel")
	require.Empty(t, ch, "unexpected deliveries after the sentinel")
}

// requireSettledStats waits until the queue reports nothing pending or in
// flight. The broker's counters are updated asynchronously after a settle
// call returns on some backends, and nothing signals that, so it polls.
func requireSettledStats(t *testing.T, b queue.Broker, q string) {
	t.Helper()
	var last queue.Stats
	require.Eventually(t, func() bool {
		st, err := b.Stats(t.Context(), q)
		if err != nil {
			return false
		}
		last = st
		return st == queue.Stats{Queue: q}
	}, waitTimeout, 10*time.Millisecond, "stats never settled: %+v", &last)
}
