package worker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ia-modules/ia-go/internal/jsonx"
	"github.com/ia-modules/ia-go/pkg/queue"
	"github.com/ia-modules/ia-go/pkg/state"
	"github.com/ia-modules/ia-go/pkg/steps"
)

// Defaults for Config.
const (
	DefaultConcurrency   = 8
	DefaultAckWait       = 30 * time.Second
	DefaultStepTimeout   = 10 * time.Minute
	DefaultInlineLimit   = 256 << 10
	DefaultShutdownGrace = 30 * time.Second
)

// Blobs stores payloads too large to travel inline on the broker.
type Blobs interface {
	BlobPut(ctx context.Context, key string, data []byte) error
	BlobGet(ctx context.Context, key string) ([]byte, error)
}

// Config configures a Worker. Broker and Registry are required.
type Config struct {
	Broker   queue.Broker
	Registry *steps.Registry
	// Fallback runs steps whose class is not registered but that name a
	// module (Python steps through the exec shim). Nil: such steps fail.
	Fallback steps.Handler
	// Hot delivers cancellations of in-flight steps (live "step_cancelled"
	// events); nil: steps are only cancelled by their timeout or Stop.
	Hot state.Hot
	// Local, when set, takes completions in process (a scheduler sharing
	// this process), saving the events queue hop; a completion it refuses
	// is published on the events queue as usual.
	Local Completer
	// Blobs holds large payloads; nil keeps everything inline.
	Blobs Blobs
	// Queues to consume; default [queue.DefaultTaskQueue].
	Queues []string
	// Concurrency per queue; default DefaultConcurrency.
	Concurrency int
	// AckWait is the broker's redelivery deadline; heartbeats are sent at a
	// third of it. Default DefaultAckWait.
	AckWait time.Duration
	// StepTimeout bounds an attempt whose task names no timeout.
	StepTimeout time.Duration
	// InlineLimit: outputs larger than this many bytes go to Blobs.
	InlineLimit int
	// ID names this worker in step attempts; default hostname-pid-random.
	ID         string
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Completer applies a completion and returns nil once it is durably
// recorded (or known to be stale).
type Completer interface {
	Complete(ctx context.Context, c *Completion) error
}

// HeaderScheduler is the task header naming the scheduler that decided the
// task (its direct lane), which holds the run's state in memory; the
// worker copies it into the completion (Completion.Scheduler).
const HeaderScheduler = "scheduler"

// Worker executes step tasks and publishes their completions. It holds no
// state of its own: any worker can take any task.
type Worker struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics

	mu       sync.Mutex
	subs     []queue.Subscription
	stopHot  func()
	inflight map[string]context.CancelFunc
	started  bool
	// handBack is set when Stop's grace period ends: steps cancelled from
	// then on are handed back, not reported as failed.
	handBack atomic.Bool
}

// New validates cfg and returns a worker.
func New(cfg Config) (*Worker, error) {
	if cfg.Broker == nil || cfg.Registry == nil {
		return nil, errors.New("worker: Broker and Registry are required")
	}
	if len(cfg.Queues) == 0 {
		cfg.Queues = []string{queue.DefaultTaskQueue}
	}
	cfg.Concurrency = cmp.Or(cfg.Concurrency, DefaultConcurrency)
	cfg.AckWait = cmp.Or(cfg.AckWait, DefaultAckWait)
	cfg.StepTimeout = cmp.Or(cfg.StepTimeout, DefaultStepTimeout)
	cfg.InlineLimit = cmp.Or(cfg.InlineLimit, DefaultInlineLimit)
	if cfg.ID == "" {
		host, _ := os.Hostname()
		cfg.ID = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), uuid.NewString()[:8])
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return &Worker{cfg: cfg, log: log.With("component", "worker", "worker_id", cfg.ID), metrics: newMetrics(cfg.Registerer), inflight: map[string]context.CancelFunc{}}, nil
}

// ID returns the worker's id.
func (w *Worker) ID() string { return w.cfg.ID }

// Start subscribes to the task queues. Cancelling ctx hard-stops in-flight
// steps; Stop is the graceful way out.
func (w *Worker) Start(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return nil
	}
	w.handBack.Store(false)
	for _, q := range w.cfg.Queues {
		sub, err := w.cfg.Broker.Subscribe(ctx, q, queue.SubscribeConfig{Concurrency: w.cfg.Concurrency, AckWait: w.cfg.AckWait}, queue.HandlerFunc(w.handle))
		if err != nil {
			for _, s := range w.subs {
				_ = s.Stop(ctx)
			}
			w.subs = nil
			return fmt.Errorf("worker: subscribe %s: %w", q, err)
		}
		w.subs = append(w.subs, sub)
	}
	if w.cfg.Hot != nil {
		events, stop, err := w.cfg.Hot.EventSubscribe(ctx, "")
		if err != nil {
			w.log.WarnContext(ctx, "worker: no live cancellations", "error", err)
		} else {
			w.stopHot = stop
			go w.watchCancels(events)
		}
	}
	w.started = true
	return nil
}

// watchCancels cancels in-flight steps the scheduler cancelled.
func (w *Worker) watchCancels(events <-chan state.Event) {
	for ev := range events {
		if ev.Type != "step_cancelled" {
			continue
		}
		var d struct {
			Iteration int `json:"iteration"`
		}
		_ = json.Unmarshal(ev.Data, &d)
		if w.CancelStep(ev.RunID, ev.StepID, d.Iteration) {
			w.log.Info("worker: step cancelled", "run_id", ev.RunID, "step_id", ev.StepID)
		}
	}
}

// Stop stops taking tasks and waits, within ctx, for in-flight steps to
// finish. When ctx ends first, in-flight steps are cancelled and their tasks
// handed back to the broker for another worker.
func (w *Worker) Stop(ctx context.Context) error {
	w.mu.Lock()
	subs := w.subs
	w.subs = nil
	w.started = false
	if w.stopHot != nil {
		w.stopHot()
		w.stopHot = nil
	}
	w.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		var errs []error
		for _, s := range subs {
			errs = append(errs, s.Stop(ctx))
		}
		done <- errors.Join(errs...)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		w.cancelAll()
		return <-done
	}
}

// CancelStep cancels an in-flight attempt of the step (through its
// context); the step reports a cancellation that the scheduler drops.
func (w *Worker) CancelStep(runID, stepID string, iteration int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	cancel, ok := w.inflight[key(runID, stepID, iteration)]
	if ok {
		cancel()
	}
	return ok
}

func (w *Worker) cancelAll() {
	w.handBack.Store(true) // before the cancels, which the steps observe
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.inflight {
		c()
	}
}

func key(runID, stepID string, iteration int) string {
	return fmt.Sprintf("%s/%s/%d", runID, stepID, iteration)
}

func (w *Worker) handle(ctx context.Context, d queue.Delivery) {
	var t Task
	inputs, err := decodeTask(d.Message().Body, &t)
	if err != nil {
		w.log.ErrorContext(ctx, "worker: undecodable task dropped", "error", err, "msg_id", d.Message().ID)
		_ = d.Term(ctx)
		return
	}
	log := w.taskLogger(&t)
	c := w.execute(ctx, d, &t, log)
	if c == nil {
		// Shutting down: hand the task back for another worker.
		_ = d.Nak(context.WithoutCancel(ctx), 0)
		return
	}
	if len(inputs) <= EchoInputLimit && string(inputs) != "null" {
		c.Input = inputs
	}
	pubCtx := context.WithoutCancel(ctx)
	// The scheduler that decided the task holds the run's state in memory:
	// whichever scheduler takes the completion hands it on to that one.
	c.Scheduler = d.Message().Headers[HeaderScheduler]
	if w.cfg.Local != nil {
		// The task is acked only after the completion is committed, as on
		// the broker path: a crash in between re-runs the step.
		err := w.cfg.Local.Complete(pubCtx, c)
		if err == nil {
			w.settled(pubCtx, d, log, pathLocal)
			return
		}
		log.DebugContext(ctx, "worker: in-process completion refused; publishing it", "error", err)
	}
	body := w.encode(c, &t)
	err = w.cfg.Broker.Publish(pubCtx, queue.Message{
		ID: CompletionMsgID(t.RunID, t.StepID, t.Iteration, t.Attempt), Queue: queue.EventsQueue, Body: body,
		Headers: map[string]string{"run_id": t.RunID, "step_id": t.StepID},
	})
	if err != nil {
		// Not acked: the broker redelivers and the step runs again (at least once).
		log.ErrorContext(ctx, "worker: publishing completion failed; task will be redelivered", "error", err)
		_ = d.Nak(pubCtx, time.Second)
		return
	}
	w.settled(pubCtx, d, log, pathBroker)
}

// encode returns c's JSON for the broker; an output that is not JSON fails
// the attempt instead.
func (w *Worker) encode(c *Completion, t *Task) []byte {
	body, err := encodeCompletion(c)
	if err != nil {
		c = &Completion{RunID: t.RunID, StepID: t.StepID, Iteration: t.Iteration, Attempt: t.Attempt, WorkerID: w.cfg.ID,
			Error: &Failure{Message: "output is not JSON-encodable: " + err.Error(), Code: "bad_output"}, StartedAt: c.StartedAt, EndedAt: c.EndedAt,
			Scheduler: c.Scheduler}
		body, _ = json.Marshal(c)
	}
	return body
}

// settled acks a task whose completion went by path.
func (w *Worker) settled(ctx context.Context, d queue.Delivery, log *slog.Logger, path string) {
	w.metrics.completions.WithLabelValues(path).Inc()
	if err := d.Ack(ctx); err != nil {
		log.WarnContext(ctx, "worker: ack failed; the task may run again", "error", err)
	}
}

// execute runs one attempt under its timeout with heartbeats. It returns nil
// when the worker is shutting down and the task should be handed back.
func (w *Worker) execute(ctx context.Context, d queue.Delivery, t *Task, log *slog.Logger) *Completion {
	started := time.Now()
	c := &Completion{RunID: t.RunID, StepID: t.StepID, Iteration: t.Iteration, Attempt: t.Attempt, WorkerID: w.cfg.ID, StartedAt: started}
	fail := func(f *Failure) *Completion {
		c.Error, c.EndedAt = f, time.Now()
		w.metrics.observe(t.Class, "failed", c.EndedAt.Sub(started))
		return c
	}
	h, ok := w.cfg.Registry.Lookup(t.Class)
	if !ok && t.Module != "" && w.cfg.Fallback != nil {
		h, ok = w.cfg.Fallback, true
	}
	if !ok {
		return fail(&Failure{Message: fmt.Sprintf("no handler for step class %q on worker %s", t.Class, w.cfg.ID), Code: "unknown_class"})
	}
	data := t.Data
	if t.DataRef != "" && w.cfg.Blobs != nil {
		raw, err := w.cfg.Blobs.BlobGet(ctx, t.DataRef)
		if err != nil {
			return fail(&Failure{Message: "loading step input: " + err.Error(), Code: "blob", Retryable: true})
		}
		if err := json.Unmarshal(raw, &data); err != nil {
			return fail(&Failure{Message: "decoding step input: " + err.Error(), Code: "blob"})
		}
	}
	timeout := w.cfg.StepTimeout
	if t.TimeoutMS > 0 {
		timeout = time.Duration(t.TimeoutMS) * time.Millisecond
	} else if d, ok := steps.TimeoutOf(h); ok && d > 0 {
		timeout = d
	}
	stepCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	k := key(t.RunID, t.StepID, t.Iteration)
	w.mu.Lock()
	w.inflight[k] = cancel
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.inflight, k)
		w.mu.Unlock()
	}()
	stopBeat := w.heartbeat(stepCtx, d)
	in := &steps.Input{
		RunID: t.RunID, StepID: t.StepID, Iteration: t.Iteration, Attempt: t.Attempt,
		Class: t.Class, Module: t.Module, Data: data, Inputs: t.Inputs, Config: t.Config,
		IdempotencyKey: steps.IdempotencyKey(t.RunID, t.StepID, t.Iteration, t.Attempt),
		Logger:         log,
	}
	log.DebugContext(ctx, "worker: step started")
	out, err := runSafely(stepCtx, h, in)
	stopBeat()
	if err != nil {
		if (ctx.Err() != nil || w.handBack.Load()) && stepCtx.Err() != nil && !errors.Is(stepCtx.Err(), context.DeadlineExceeded) {
			return nil // the worker is stopping, not the step failing
		}
		cl := steps.Classify(err)
		if errors.Is(stepCtx.Err(), context.DeadlineExceeded) {
			cl.Code, cl.Retryable = "timeout", true
			cl.Message = fmt.Sprintf("step timed out after %s: %v", timeout, err)
		}
		log.InfoContext(ctx, "worker: step failed", "error", err, "retryable", cl.Retryable)
		return fail(&Failure{Message: cmp.Or(cl.Message, err.Error()), Code: cl.Code, Retryable: cl.Retryable,
			RetryAfterMS: cl.Delay.Milliseconds(), Snooze: cl.Snooze})
	}
	var value any
	if out != nil {
		value = out.Data
	}
	raw, err := jsonx.AppendValue(nil, value)
	if err != nil {
		return fail(&Failure{Message: "output is not JSON-encodable: " + err.Error(), Code: "bad_output"})
	}
	if len(raw) > w.cfg.InlineLimit && w.cfg.Blobs != nil {
		ref := "output/" + t.RunID + "/" + t.StepID + "/" + fmt.Sprint(t.Iteration) + "/" + fmt.Sprint(t.Attempt)
		if err := w.cfg.Blobs.BlobPut(ctx, ref, raw); err != nil {
			return fail(&Failure{Message: "storing large output: " + err.Error(), Code: "blob", Retryable: true})
		}
		c.OutputRef = ref
	} else {
		c.Output = raw
	}
	c.EndedAt = time.Now()
	w.metrics.observe(t.Class, "succeeded", c.EndedAt.Sub(started))
	log.DebugContext(ctx, "worker: step succeeded", "duration", c.EndedAt.Sub(started))
	return c
}

func runSafely(ctx context.Context, h steps.Handler, in *steps.Input) (out *steps.Output, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = steps.NonRetryable(fmt.Errorf("step panicked: %v", r))
		}
	}()
	return h.Run(ctx, in)
}

// heartbeat extends the broker's ack deadline while a long step runs. It
// runs on a timer rather than a goroutine: a step that ends before the first
// beat (most do) then costs no goroutine start and no wait for its exit.
func (w *Worker) heartbeat(ctx context.Context, d queue.Delivery) func() {
	every := w.cfg.AckWait / 3
	var (
		mu      sync.Mutex
		stopped bool
		t       *time.Timer
	)
	mu.Lock()
	defer mu.Unlock()
	t = time.AfterFunc(every, func() {
		if ctx.Err() != nil {
			return
		}
		_ = d.InProgress(ctx)
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			t.Reset(every)
		}
	})
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		t.Stop()
	}
}
