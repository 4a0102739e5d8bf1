package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ia-modules/ia-go/pkg/queue"
	"github.com/ia-modules/ia-go/pkg/queue/queuenats"
	"github.com/ia-modules/ia-go/pkg/state/statesqlite"
	"github.com/ia-modules/ia-go/pkg/steps"
	"github.com/ia-modules/ia-go/pkg/worker"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type bundle struct {
	broker queue.Broker
	blobs  *statesqlite.Store
	reg    *steps.Registry
	events chan worker.Completion
}

func setup(t *testing.T) *bundle {
	t.Helper()
	ctx := t.Context()
	srv, err := queuenats.StartEmbedded(ctx, queuenats.EmbeddedConfig{StoreDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown)
	br, err := queuenats.New(ctx, queuenats.Config{URL: srv.ClientURL()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = br.Close() })
	blobs, err := statesqlite.New(ctx, statesqlite.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = blobs.Close() })
	b := &bundle{broker: br, blobs: blobs, reg: steps.Builtins(), events: make(chan worker.Completion, 16)}
	sub, err := br.Subscribe(context.Background(), queue.EventsQueue, queue.SubscribeConfig{Concurrency: 4}, queue.HandlerFunc(func(ctx context.Context, d queue.Delivery) {
		var c worker.Completion
		_ = json.Unmarshal(d.Message().Body, &c)
		_ = d.Ack(ctx)
		b.events <- c
	}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Stop(context.Background()) })
	return b
}

func (b *bundle) worker(t *testing.T, cfg worker.Config) *worker.Worker {
	t.Helper()
	cfg.Broker, cfg.Registry, cfg.Blobs = b.broker, b.reg, b.blobs
	w, err := worker.New(cfg)
	require.NoError(t, err)
	require.NoError(t, w.Start(context.Background()))
	return w
}

func (b *bundle) send(t *testing.T, task worker.Task) {
	t.Helper()
	b.sendFrom(t, task, "")
}

// sendFrom publishes task as decided by the scheduler serving the direct
// lane under sched ("": none).
func (b *bundle) sendFrom(t *testing.T, task worker.Task, sched string) {
	t.Helper()
	body, err := json.Marshal(task)
	require.NoError(t, err)
	var headers map[string]string
	if sched != "" {
		headers = map[string]string{worker.HeaderScheduler: sched}
	}
	require.NoError(t, b.broker.Publish(t.Context(), queue.Message{ID: worker.TaskMsgID(task.RunID, task.StepID, task.Iteration, task.Attempt),
		Queue: queue.DefaultTaskQueue, Body: body, Headers: headers}))
}

func (b *bundle) next(t *testing.T) worker.Completion {
	t.Helper()
	select {
	case c := <-b.events:
		return c
	case <-time.After(20 * time.Second):
		t.Fatal("no completion")
		return worker.Completion{}
	}
}

func TestWorkerRunsStepsAndReportsOutcomes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.reg.Register("nonretryable", steps.HandlerFunc(func(context.Context, *steps.Input) (*steps.Output, error) {
		return nil, steps.NonRetryable(errors.New("bad input"))
	}))
	w := b.worker(t, worker.Config{InlineLimit: 1024})
	defer func() { require.NoError(t, w.Stop(context.Background())) }()

	b.send(t, worker.Task{RunID: "r1", StepID: "s", Iteration: 1, Attempt: 1, Class: "echo", Data: map[string]any{"x": 1.0}})
	c := b.next(t)
	require.Nil(t, c.Error)
	require.JSONEq(t, `{"x":1}`, string(c.Output))
	require.Equal(t, w.ID(), c.WorkerID)

	require.Empty(t, c.Input, "no inputs, no echo")

	// The inputs come back as the task carried them (for the attempt
	// record), unless they are large.
	b.send(t, worker.Task{RunID: "r1", StepID: "in", Iteration: 1, Attempt: 1, Class: "echo", Inputs: map[string]any{"q": "v", "n": 2.0}})
	c = b.next(t)
	require.JSONEq(t, `{"n":2,"q":"v"}`, string(c.Input))
	b.send(t, worker.Task{RunID: "r1", StepID: "big-inputs", Iteration: 1, Attempt: 1, Class: "echo", Inputs: map[string]any{"q": strings.Repeat("x", worker.EchoInputLimit)}})
	c = b.next(t)
	require.Nil(t, c.Error)
	require.Empty(t, c.Input)

	b.send(t, worker.Task{RunID: "r1", StepID: "f", Iteration: 1, Attempt: 1, Class: "nonretryable"})
	c = b.next(t)
	require.NotNil(t, c.Error)
	require.False(t, c.Error.Retryable)
	require.Contains(t, c.Error.Message, "bad input")

	b.send(t, worker.Task{RunID: "r1", StepID: "u", Iteration: 1, Attempt: 1, Class: "no-such-class"})
	c = b.next(t)
	require.Equal(t, "unknown_class", c.Error.Code)

	b.send(t, worker.Task{RunID: "r1", StepID: "t", Iteration: 1, Attempt: 1, Class: "sleep", Config: map[string]any{"duration": "5s"}, TimeoutMS: 50})
	c = b.next(t)
	require.Equal(t, "timeout", c.Error.Code, "the task's timeout bounds the attempt")
	require.True(t, c.Error.Retryable)

	big := strings.Repeat("x", 4096)
	b.send(t, worker.Task{RunID: "r1", StepID: "big", Iteration: 1, Attempt: 1, Class: "echo", Data: map[string]any{"big": big}})
	c = b.next(t)
	require.Empty(t, c.Output, "large outputs travel by reference")
	raw, err := b.blobs.BlobGet(t.Context(), c.OutputRef)
	require.NoError(t, err)
	require.Contains(t, string(raw), big)
}

// TestWorkerStopFinishesInFlightSteps: a graceful stop lets a running step
// finish and report before the worker exits.
func TestWorkerStopFinishesInFlightSteps(t *testing.T) {
	t.Parallel()
	b := setup(t)
	started := make(chan struct{})
	b.reg.Register("slow", steps.HandlerFunc(func(ctx context.Context, in *steps.Input) (*steps.Output, error) {
		close(started)
		select {
		case <-time.After(300 * time.Millisecond):
			return &steps.Output{Data: "finished"}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}))
	w := b.worker(t, worker.Config{})
	b.send(t, worker.Task{RunID: "r2", StepID: "s", Iteration: 1, Attempt: 1, Class: "slow"})
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, w.Stop(ctx))
	c := b.next(t)
	require.Nil(t, c.Error)
	require.JSONEq(t, `"finished"`, string(c.Output))
}

// TestWorkerHandsBackAfterGrace: when the grace period ends first, the
// step is cancelled and its task handed back, and another worker runs it.
func TestWorkerHandsBackAfterGrace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first := make(chan struct{})
	runs := make(chan int, 4)
	b.reg.Register("stubborn", steps.HandlerFunc(func(ctx context.Context, in *steps.Input) (*steps.Output, error) {
		runs <- 1
		select {
		case <-first:
			return &steps.Output{Data: "second worker"}, nil
		default:
		}
		close(first)
		<-ctx.Done() // runs until cancelled
		return nil, ctx.Err()
	}))
	w1 := b.worker(t, worker.Config{})
	b.send(t, worker.Task{RunID: "r3", StepID: "s", Iteration: 1, Attempt: 1, Class: "stubborn"})
	<-first
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = w1.Stop(ctx) // the grace period ends: cancel and hand back
	w2 := b.worker(t, worker.Config{})
	defer func() { require.NoError(t, w2.Stop(context.Background())) }()
	c := b.next(t)
	require.Nil(t, c.Error, "the handed-back task is not reported as a failure")
	require.JSONEq(t, `"second worker"`, string(c.Output))
	require.Len(t, runs, 2)
}

// completer is an in-process sink (a scheduler sharing the process) that
// refuses its first refuse completions.
type completer struct {
	refuse int
	got    chan worker.Completion
}

func (c *completer) Complete(_ context.Context, cp *worker.Completion) error {
	if c.refuse > 0 {
		c.refuse--
		return errors.New("store unavailable")
	}
	c.got <- *cp
	return nil
}

// TestWorkerLocalCompletions: a worker with an in-process sink hands it the
// completion instead of the events queue, acks the task only then, and falls
// back to the events queue when the sink refuses.
func TestWorkerLocalCompletions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sink := &completer{refuse: 1, got: make(chan worker.Completion, 4)}
	w := b.worker(t, worker.Config{Local: sink})
	defer func() { require.NoError(t, w.Stop(context.Background())) }()

	// Refused: it travels on the events queue instead.
	b.send(t, worker.Task{RunID: "r9", StepID: "a", Iteration: 1, Attempt: 1, Class: "echo", Data: map[string]any{"n": 1.0}})
	c := b.next(t)
	require.Equal(t, "a", c.StepID)
	require.JSONEq(t, `{"n":1}`, string(c.Output))

	// Accepted: the sink has it, the events queue does not.
	b.send(t, worker.Task{RunID: "r9", StepID: "b", Iteration: 1, Attempt: 1, Class: "echo", Data: map[string]any{"n": 2.0}})
	select {
	case c := <-sink.got:
		require.Equal(t, "b", c.StepID)
		require.JSONEq(t, `{"n":2}`, string(c.Output))
		require.Equal(t, w.ID(), c.WorkerID)
	case <-time.After(20 * time.Second):
		t.Fatal("no in-process completion")
	}
	select {
	case c := <-b.events:
		t.Fatalf("completion of %s also sent on the events queue", c.StepID)
	case <-time.After(200 * time.Millisecond):
	}
	require.Eventually(t, func() bool {
		st, err := b.broker.Stats(t.Context(), queue.DefaultTaskQueue)
		return err == nil && st.Pending == 0 && st.InFlight == 0
	}, 10*time.Second, 20*time.Millisecond, "the task is acked")
}

// TestWorkerNamesTheDecidingScheduler: the completion carries the
// scheduler the task names (its header), so that a scheduler taking it
// from the events queue can hand it on to that one.
func TestWorkerNamesTheDecidingScheduler(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.worker(t, worker.Config{})
	defer func() { require.NoError(t, w.Stop(context.Background())) }()
	b.sendFrom(t, worker.Task{RunID: "r7", StepID: "a", Iteration: 1, Attempt: 1, Class: "echo"}, "sched-7")
	require.Equal(t, "sched-7", b.next(t).Scheduler)
	b.send(t, worker.Task{RunID: "r7", StepID: "b", Iteration: 1, Attempt: 1, Class: "echo"})
	require.Empty(t, b.next(t).Scheduler)
}
