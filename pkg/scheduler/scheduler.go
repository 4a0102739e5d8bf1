package scheduler

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ia-modules/ia-go/internal/jsonx"
	"github.com/ia-modules/ia-go/pkg/dag"
	"github.com/ia-modules/ia-go/pkg/queue"
	"github.com/ia-modules/ia-go/pkg/state"
	"github.com/ia-modules/ia-go/pkg/worker"
)

// Defaults for Config.
const (
	DefaultConcurrency  = 64
	DefaultRelayPoll    = time.Second
	DefaultRelayBatch   = 256
	DefaultOutboxLease  = 30 * time.Second
	DefaultInlineLimit  = 256 << 10
	maxConflictRetries  = 50
	completionRedeliver = time.Second
	// DefaultAheadHold is Config.AheadHold's default: more than the
	// brokers' default de-duplication window (queuenats and queueasynq
	// DefaultDuplicateWindow, 2 minutes).
	DefaultAheadHold = 3 * time.Minute
)

// ErrInvalidInput wraps errors caused by the caller's input (unknown
// pipeline, missing parameters); nothing was written.
var ErrInvalidInput = errors.New("invalid input")

// Config configures a Scheduler. Store and Broker are required.
type Config struct {
	Store  state.Store
	Broker queue.Broker
	// Hot receives live run events for watchers; nil: none are published.
	Hot state.Hot
	// Registry, when set, rejects pipelines naming unknown step classes.
	Registry dag.Registry
	// Concurrency is how many events are applied at once; default 64.
	Concurrency int
	// AckWait is how long an event may stay unsettled before the broker
	// redelivers it (a scheduler that died mid-event); default 30s.
	AckWait time.Duration
	// RelayPoll is how often the outbox is checked when nothing signals
	// (other schedulers' leftovers after a crash). Default 1s.
	RelayPoll time.Duration
	// CommitConcurrency is how many group commits may run at once. Default
	// 1, which SQLite's single writer needs; a Postgres server bound by its
	// fsync rather than its CPU may do better with a few.
	CommitConcurrency int
	// CommitDelay, when positive, is how long a group commit waits for more
	// decisions before it starts, as Postgres's commit_delay: only when the
	// previous group carried at least CommitSiblings decisions (a busy
	// scheduler), so that a lone decision never waits. On SQLite a group of
	// 48 decisions costs ~40 % less per decision than one of 6
	// (docs/benchmarks.md). Default 0: no wait.
	CommitDelay time.Duration
	// CommitSiblings is the previous group's size from which CommitDelay
	// applies; default 2.
	CommitSiblings int
	// AttemptRecordDelay is how long the record of an attempt this
	// scheduler starts may be held back, to be written with the attempt's
	// end: one row written once instead of twice for every step shorter
	// than the delay. A longer step's "running" record is written when the
	// delay is over. Default DefaultAttemptRecordDelay; negative: written
	// with the decision that starts the step.
	AttemptRecordDelay time.Duration
	// InlineLimit: step inputs larger than this many bytes travel as blobs.
	InlineLimit int
	// PublishAfterCommit writes every task of a decision to the outbox and
	// publishes it after the commit, as with a store that is not a
	// state.PreCommitter, instead of publishing the tasks that a worker's
	// completion leads to before committing the decision (see the package
	// doc, "Publishing before the commit").
	PublishAfterCommit bool
	// EphemeralStore: the store does not outlive this process (ia run's
	// temporary SQLite database), so no relay could publish a task it
	// holds once the process is gone. A decision's due tasks are then
	// published after its commit without an outbox row (delayed ones still
	// wait in the outbox).
	EphemeralStore bool
	// HoldRunLocks is how long the run of a decision that published its
	// tasks before its commit stays locked, in a transaction held open for
	// the run's next decisions here, which then publish before writing
	// anything and commit together (runlock.go). Only on a
	// state.RunLocker store. Default DefaultHoldRunLocks; negative: never.
	HoldRunLocks time.Duration
	// AheadHold is how long a completion that is ahead of its run's state
	// (dag.ErrAhead: its task was published by a decision not committed, or
	// not yet) is offered again before it is dropped, counted from its end.
	// It must be at least the broker's de-duplication window, so that a
	// decision taken again after that publishes its task anew rather than
	// be de-duplicated against the task whose completion was dropped.
	// Default DefaultAheadHold.
	AheadHold time.Duration
	// NoDirect: neither hand completions on to the scheduler that decided
	// their task over the broker's direct lane, nor serve it to others
	// (see the package doc, "Handing completions on").
	NoDirect   bool
	ID         string
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Scheduler applies run events to run state and publishes the resulting
// tasks. Any number of schedulers may run against one store: a run's
// version guards every update, and a conflict re-reads and re-decides.
type Scheduler struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics

	graphMu sync.Mutex
	graphs  map[string]compiled
	runs    *runLocks
	commits *committer
	held    *heldStarts
	slow    slowSet // schedulers that did not answer a hand-on in time
	txns    *runTxns
	liveQ   liveQueue

	kick     chan struct{}
	delKick  chan struct{}
	delMu    sync.Mutex
	relaying bool
	mu       sync.Mutex
	sub      queue.Subscription
	directs  queue.Subscription
	// direct is the name this scheduler serves the direct lane under while
	// it does; its tasks carry it (worker.HeaderScheduler).
	direct  atomic.Pointer[string]
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started bool
}

// New validates cfg and returns a scheduler.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Store == nil || cfg.Broker == nil {
		return nil, errors.New("scheduler: Store and Broker are required")
	}
	cfg.Concurrency = cmp.Or(cfg.Concurrency, DefaultConcurrency)
	cfg.RelayPoll = cmp.Or(cfg.RelayPoll, DefaultRelayPoll)
	cfg.InlineLimit = cmp.Or(cfg.InlineLimit, DefaultInlineLimit)
	cfg.AheadHold = cmp.Or(cfg.AheadHold, DefaultAheadHold)
	cfg.HoldRunLocks = cmp.Or(cfg.HoldRunLocks, DefaultHoldRunLocks)
	if cfg.ID == "" {
		host, _ := os.Hostname()
		cfg.ID = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), uuid.NewString()[:8])
	}
	if cfg.AttemptRecordDelay == 0 {
		cfg.AttemptRecordDelay = DefaultAttemptRecordDelay
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s := &Scheduler{
		cfg: cfg, log: log.With("component", "scheduler", "scheduler_id", cfg.ID),
		metrics: newMetrics(cfg.Registerer), graphs: map[string]compiled{}, runs: newRunLocks(), kick: make(chan struct{}, 1), delKick: make(chan struct{}, 1),
		held: newHeldStarts(cfg.AttemptRecordDelay),
	}
	s.txns = newRunTxns(s, cfg.HoldRunLocks)
	var publish func(context.Context, []state.OutboxMessage) error
	if !cfg.PublishAfterCommit {
		publish = s.publishBeforeCommit
	}
	s.commits = newCommitter(cfg.Store, cfg.CommitConcurrency, cfg.CommitDelay, cmp.Or(cfg.CommitSiblings, 2), publish)
	return s, nil
}

// Start consumes run events and runs the outbox relay until Stop or until
// ctx is cancelled.
func (s *Scheduler) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	sub, err := s.cfg.Broker.Subscribe(ctx, queue.EventsQueue, queue.SubscribeConfig{Concurrency: s.cfg.Concurrency, AckWait: s.cfg.AckWait}, queue.HandlerFunc(s.handle))
	if err != nil {
		cancel()
		return fmt.Errorf("scheduler: subscribe: %w", err)
	}
	s.sub, s.cancel, s.started = sub, cancel, true
	s.serveDirect(ctx)
	s.delMu.Lock()
	s.relaying = true
	s.delMu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.relay(ctx)
	}()
	if s.held.delay > 0 {
		s.held.setOpen(true)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.heldWriter(ctx)
		}()
	}
	s.signal()
	return nil
}

// Stop stops consuming and waits for in-flight events and the relay.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	sub, directs, cancel := s.sub, s.directs, s.cancel
	s.sub, s.directs, s.cancel, s.started = nil, nil, nil, false
	s.mu.Unlock()
	s.direct.Store(nil) // tasks decided from now on name no scheduler
	var err error
	if directs != nil {
		err = directs.Stop(ctx)
	}
	if sub != nil {
		err = errors.Join(err, sub.Stop(ctx))
	}
	if cancel != nil {
		cancel()
	}
	s.wg.Wait()
	// The starts still held are written now; later ones at once.
	s.held.setOpen(false)
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	s.txns.close()
	s.writeHeld(wctx, time.Now(), true)
	s.waitLive(wctx)
	wcancel()
	return err
}

func (s *Scheduler) signal() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// PipelineImport stores a pipeline definition as a new version of slug when
// its content changed, and returns the current version.
func (s *Scheduler) PipelineImport(ctx context.Context, slug string, definition []byte) (*state.PipelineVersion, bool, error) {
	p, probs := dag.Parse(slug, definition)
	if p == nil || probs.HasErrors() {
		return nil, false, fmt.Errorf("%w: %w", ErrInvalidInput, probs.Err())
	}
	if _, probs := dag.Compile(p, &dag.CompileOptions{Registry: s.cfg.Registry}); probs.HasErrors() {
		return nil, false, fmt.Errorf("%w: %w", ErrInvalidInput, probs.Err())
	}
	canonical, err := dag.Format(p)
	if err != nil {
		return nil, false, err
	}
	sum := sha256.Sum256(canonical)
	return s.cfg.Store.PipelineVersionPut(ctx, &state.PipelineVersionPutParams{
		Slug: slug, Name: cmp.Or(p.Name, slug), Hash: hex.EncodeToString(sum[:]), Definition: definition,
	})
}

// compiled is a pipeline version's graph with the slug runs are filed under.
type compiled struct {
	g    *dag.Graph
	slug string
}

// graph returns a pipeline version compiled, reading and compiling it once
// per scheduler (versions are immutable).
func (s *Scheduler) graph(ctx context.Context, versionID string) (compiled, error) {
	s.graphMu.Lock()
	c, ok := s.graphs[versionID]
	s.graphMu.Unlock()
	if ok {
		return c, nil
	}
	pv, err := s.cfg.Store.PipelineVersionGet(ctx, versionID)
	if err != nil {
		return compiled{}, fmt.Errorf("loading pipeline version %s: %w", versionID, err)
	}
	g, probs := dag.Load(pv.Slug, pv.Definition, nil)
	if g == nil {
		return compiled{}, fmt.Errorf("pipeline version %s does not compile: %w", versionID, probs.Err())
	}
	c = compiled{g: g, slug: pv.Slug}
	s.graphMu.Lock()
	s.graphs[versionID] = c
	s.graphMu.Unlock()
	return c, nil
}

// SubmitParams describe a run to create.
type SubmitParams struct {
	PipelineVersionID string
	Input             map[string]any
	IdempotencyKey    string
	Priority          int
	CreatedBy         string
}

// Submit creates a run pinned to the pipeline version and starts it. A
// repeated IdempotencyKey returns the first run and false.
func (s *Scheduler) Submit(ctx context.Context, p *SubmitParams) (*state.Run, bool, error) {
	pc, err := s.graph(ctx, p.PipelineVersionID)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	g := pc.g
	runID := newRunID()
	st, err := g.NewRun(runID, p.Input)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	now := time.Now()
	acts, err := g.Decide(st, dag.Event{Type: dag.EventRunStarted, At: now})
	if err != nil {
		return nil, false, err
	}
	enc := &dag.StateEncoder{}
	u, err := s.translate(ctx, g, pc.slug, st, acts, now)
	if err != nil {
		return nil, false, err
	}
	if u.State, err = enc.Append(nil, st); err != nil {
		return nil, false, fmt.Errorf("encoding run state: %w", err)
	}
	u.Status, u.Error, u.Finished = string(st.Status), st.Error, st.Status.Terminal()
	if m, ok := deadlineMessage(g, runID, 0, now); ok {
		u.Outbox = append(u.Outbox, m)
	}
	input, _ := json.Marshal(p.Input)
	run := state.Run{
		ID: runID, PipelineVersionID: p.PipelineVersionID, PipelineSlug: pc.slug, Status: string(st.Status), Input: input,
		Priority: p.Priority, IdempotencyKey: p.IdempotencyKey, CreatedBy: p.CreatedBy, State: u.State,
		Output: u.Output, Error: u.Error,
	}
	claimForPublish(u.Outbox, time.Now())
	write, hold := s.held.split(runID, u.Attempts)
	created, isNew, err := s.commits.insert(ctx, &state.RunInsertParams{Run: run, Outbox: u.Outbox, Attempts: write, HumanTasks: u.HumanTasks})
	if err != nil {
		return nil, false, fmt.Errorf("scheduler: inserting run: %w", err)
	}
	if isNew {
		s.putStarts(ctx, s.held.committed(runID, write, hold, time.Now()))
		if !st.Status.Terminal() {
			// The first completion then needs no read and decode of the run.
			s.runs.put(runID, &cachedRun{version: created.Version, status: created.Status, g: g, st: st, slug: pc.slug, enc: enc})
		}
		s.metrics.runs.WithLabelValues("submitted").Inc()
		s.publishNow(ctx, u.Outbox)
		s.publishLive(runID, "", "run_started", nil)
		s.live(runID, acts)
	}
	return created, isNew, nil
}

// Cancel asks a run to stop; in-flight steps are cancelled through their
// context.
func (s *Scheduler) Cancel(ctx context.Context, runID, reason string) error {
	return s.Apply(ctx, runID, dag.Event{Type: dag.EventCancelRequested, Reason: reason})
}

// Resume continues a failed or cancelled run from its failed steps.
func (s *Scheduler) Resume(ctx context.Context, runID string) error {
	return s.Apply(ctx, runID, dag.Event{Type: dag.EventResumeRequested})
}

// Apply applies one event to a run: decide, then commit state, attempts,
// human tasks and outbox in one transaction guarded by the run's version.
// A stale event returns dag.ErrStale and changes nothing.
//
// Events of one run are applied one batch at a time: events that arrive
// while a batch commits (the completions of a fan-out) are decided one
// after the other on the run's state and committed together, as if each
// had been committed on its own.
func (s *Scheduler) Apply(ctx context.Context, runID string, ev dag.Event) error {
	return s.apply(ctx, runID, ev, attemptEnd{})
}

// attemptEnd is what a worker's completion tells about the attempt beyond
// its event: the output's JSON, so the attempt record does not encode it
// again, and the worker's echo of the inputs and start time, for a record
// whose held start was lost.
type attemptEnd struct {
	output, input json.RawMessage
	began         time.Time
	// kept: the completion is a broker delivery (or handed on from one),
	// delivered again until it is acknowledged, so the tasks of the
	// decision it leads to may be published before that decision commits:
	// if the decision is lost, the same completion takes it again.
	kept bool
}

// apply is Apply with what the caller knows of the attempt ev ends.
func (s *Scheduler) apply(ctx context.Context, runID string, ev dag.Event, end attemptEnd) error {
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	req := &applyReq{ev: ev, end: end, ready: make(chan struct{}, 1)}
	if !s.runs.enqueue(runID, req) {
		<-req.ready // a result, or the lead (req.lead was set before the send)
		if !req.lead {
			return req.result()
		}
	}
	reqs := s.runs.take(runID)
	s.applyBatch(ctx, runID, reqs)
	for _, r := range reqs {
		if r != req {
			r.ready <- struct{}{}
		}
	}
	s.runs.handOff(runID)
	return req.result()
}

// loadRun returns the run's cached state, or reads and decodes it.
func (s *Scheduler) loadRun(ctx context.Context, runID string) (c *cachedRun, cached bool, err error) {
	if c := s.runs.get(runID); c != nil {
		return c, true, nil
	}
	s.metrics.loads.Inc()
	run, err := s.cfg.Store.RunGet(ctx, runID)
	if err != nil {
		return nil, false, fmt.Errorf("loading run %s: %w", runID, err)
	}
	pc, err := s.graph(ctx, run.PipelineVersionID)
	if err != nil {
		return nil, false, err
	}
	var st dag.RunState
	if err := json.Unmarshal(run.State, &st); err != nil {
		return nil, false, fmt.Errorf("decoding run %s state: %w", runID, err)
	}
	return &cachedRun{version: run.Version, status: run.Status, g: pc.g, st: &st, slug: pc.slug, enc: &dag.StateEncoder{}}, false, nil
}

// applyBatch decides reqs in order on the run's state and commits the
// decisions in one transaction, setting each request's error. A conflict
// (another scheduler moved the run on) re-decides them all from the store.
func (s *Scheduler) applyBatch(ctx context.Context, runID string, reqs []*applyReq) {
	setAll := func(err error) {
		for _, r := range reqs {
			r.err = err
		}
	}
	for range maxConflictRetries {
		setAll(nil)
		c, cached, err := s.loadRun(ctx, runID)
		if err != nil {
			setAll(err)
			return
		}
		u := &state.RunUpdateParams{ID: runID, ExpectedVersion: c.version}
		var (
			applied []*applyReq
			acts    [][]dag.Action
			reload  bool
		)
		for _, r := range reqs {
			ev := r.ev
			a, err := c.g.Decide(c.st, ev) // an error leaves the state as it was
			if err != nil {
				if cached && (errors.Is(err, dag.ErrStale) || errors.Is(err, dag.ErrAhead)) {
					// The cached copy may be behind the store (another
					// scheduler moved the run on, and this event belongs
					// to the newer state): only the stored state may call
					// an event stale, or it would be dropped and the run
					// stuck.
					reload = true
					break
				}
				r.err = err
				continue
			}
			part, err := s.translate(ctx, c.g, c.slug, c.st, a, ev.At)
			if err != nil {
				// The decision is in the cached state but cannot be
				// written: forget the state, commit nothing, and let
				// every event of the batch be delivered again.
				s.runs.drop(runID)
				for _, q := range reqs {
					if q.err == nil {
						q.err = fmt.Errorf("run %s: %w", runID, err)
					}
				}
				return
			}
			if ev.Type == dag.EventHumanDecision || ev.Type == dag.EventStepFailed && ev.Attempt == 0 {
				// A human decision (or a human timeout) closes the waiting attempt.
				ev.Attempt = stepAttempt(c.g, c.st, ev.StepID)
				if ss, ok := c.g.Step(c.st, ev.StepID); ok && ev.Iteration == 0 {
					ev.Iteration = ss.Iteration
				}
				r.ev = ev
			}
			if ev.Type == dag.EventStepSucceeded || ev.Type == dag.EventStepFailed || ev.Type == dag.EventHumanDecision {
				// First, so that what the decision says next about the same
				// attempt (a task step now waiting for a human) wins.
				u.Attempts = append(u.Attempts, s.attemptDone(c.st, ev, r.end))
			}
			u.Attempts = append(u.Attempts, part.Attempts...)
			u.Outbox = append(u.Outbox, part.Outbox...)
			if ev.Type == dag.EventResumeRequested {
				// The resumed run gets its timeout_seconds afresh.
				if m, ok := deadlineMessage(c.g, runID, c.st.Resumes, ev.At); ok {
					u.Outbox = append(u.Outbox, m)
				}
			}
			u.HumanTasks = append(u.HumanTasks, part.HumanTasks...)
			if part.Output != nil {
				u.Output = part.Output
			}
			applied, acts = append(applied, r), append(acts, a)
		}
		if reload {
			s.runs.drop(runID)
			continue
		}
		if len(applied) == 0 {
			return // every event was refused; nothing changed
		}
		raw, err := c.enc.Append(c.buf[:0], c.st)
		if err != nil {
			s.runs.drop(runID)
			setAll(fmt.Errorf("encoding run state: %w", err))
			return
		}
		u.State, u.Error, u.Finished = raw, c.st.Error, c.st.Status.Terminal()
		if status := string(c.st.Status); status != c.status {
			u.Status = status
		}
		claimForPublish(u.Outbox, time.Now())
		var first, direct []state.OutboxMessage
		switch {
		case s.cfg.EphemeralStore:
			// Published after the commit; nothing outlives a crash here.
			u.Outbox, direct = splitDue(u.Outbox)
		case kept(applied) && c.g.ReadsAncestorsOnly():
			// Taken again after a loss, the decision starts the same tasks
			// with the same inputs (dag.Graph.ReadsAncestorsOnly), which
			// the broker de-duplicates.
			u.Outbox, first = splitDue(u.Outbox)
		}
		var hold []state.StepAttempt
		u.Attempts, hold = s.held.split(runID, u.Attempts)
		after := func() {
			// Maybe later, on the run's open transaction, after the
			// request that leads this batch has returned.
			ctx := context.WithoutCancel(ctx)
			s.putStarts(ctx, s.held.committed(runID, u.Attempts, hold, time.Now()))
			s.publishDirect(ctx, direct)
			s.publishNow(ctx, u.Outbox)
			s.announce(runID, applied, acts)
		}
		if t := s.txns.get(runID); t != nil && cached && t.at(c.version) {
			// The run's transaction is open here: nothing else can have
			// moved the run on, so publish, hand the writes over, and let
			// the run's next decision go.
			if err := s.publishBeforeCommit(ctx, first); err != nil {
				s.runs.drop(runID)
				setAll(fmt.Errorf("run %s: %w", runID, err))
				return
			}
			d := &txnDecision{u: u, after: after, final: c.st.Status.Terminal(), done: make(chan struct{})}
			if t.add(c.version, d) {
				s.metrics.heldLocks.WithLabelValues("used").Inc()
				if d.final {
					s.runs.drop(runID)
				} else {
					// The state's bytes are the pending write's: the
					// next decision encodes into a buffer of its own.
					c.version, c.buf, c.status = c.version+1, nil, string(c.st.Status)
					s.runs.put(runID, c)
				}
				for _, r := range applied {
					r.txn = d
				}
				return
			}
			// It ended meanwhile: commit as usual (the tasks published
			// again are de-duplicated).
		}
		// A decision whose tasks went out before its commit will hear from
		// them: keep its run's transaction open for the next ones.
		relock := len(first) > 0 && !c.st.Status.Terminal() && s.txns.room()
		version, next, err := s.commits.commit(ctx, u, first, relock)
		if next != nil {
			s.txns.keep(runID, next)
		}
		if err != nil {
			// The decisions were applied to the cached state but not
			// committed: forget them and decide again from the store.
			s.runs.drop(runID)
			if errors.Is(err, state.ErrConflict) {
				s.metrics.conflicts.Inc()
				continue
			}
			setAll(fmt.Errorf("committing run %s: %w", runID, err))
			return
		}
		if c.st.Status.Terminal() {
			s.runs.drop(runID)
		} else {
			c.version, c.buf, c.status = version, raw, string(c.st.Status)
			s.runs.put(runID, c)
		}
		after()
		return
	}
	setAll(fmt.Errorf("run %s: too many concurrent updates", runID))
}

// announce counts a committed batch's events and publishes their live
// events.
func (s *Scheduler) announce(runID string, applied []*applyReq, acts [][]dag.Action) {
	for i, r := range applied {
		ev := r.ev
		s.metrics.events.WithLabelValues(string(ev.Type)).Inc()
		if ev.Type == dag.EventStepSucceeded || ev.Type == dag.EventStepFailed {
			kind := "step_succeeded"
			if ev.Type == dag.EventStepFailed {
				kind = "step_failed"
			}
			errJSON := []byte("null")
			if ev.Error != nil {
				errJSON, _ = json.Marshal(ev.Error)
			}
			s.publishLive(runID, ev.StepID, kind, stepData(ev.Attempt, ev.Iteration, "error", errJSON))
		}
		s.live(runID, acts[i])
	}
}

// kept reports whether every event of a batch came from a kept completion
// (attemptEnd.kept), whose decision's due tasks may then be published
// before the commit.
func kept(reqs []*applyReq) bool {
	for _, r := range reqs {
		if !r.end.kept {
			return false
		}
	}
	return len(reqs) > 0
}

// splitDue moves the messages due now (claimed by claimForPublish) out of
// msgs, keeping the delayed ones, which only the outbox can hold until they
// are due. later reuses msgs' array.
func splitDue(msgs []state.OutboxMessage) (later, due []state.OutboxMessage) {
	later = msgs[:0:len(msgs)]
	for _, m := range msgs {
		if m.ClaimedUntil.IsZero() {
			later = append(later, m)
		} else {
			due = append(due, m)
		}
	}
	return later, due
}

// publishBeforeCommit publishes a decision's due messages inside its
// commit's transaction (committer.publishFirst); any failure rolls the
// decision back, and the completion that led to it is offered again.
func (s *Scheduler) publishBeforeCommit(ctx context.Context, msgs []state.OutboxMessage) error {
	errs := s.publish(ctx, msgs)
	n := 0
	for _, err := range errs {
		if err == nil {
			n++
		}
	}
	s.metrics.published.Add(float64(n))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("publishing %d of %d tasks before the commit failed: %w", len(msgs)-n, len(msgs), err)
	}
	return nil
}

// publishClaim is how long relays leave alone the messages a scheduler
// publishes itself right after committing them: long enough for a publish,
// short enough that a task whose scheduler died in between waits little.
const publishClaim = 3 * time.Second

// claimForPublish marks msgs due at now as claimed by this scheduler for
// publishClaim. Without it every relay pass would find the messages that
// publishNow has just published but not yet deleted, publish them again and,
// with a due message always in the outbox, never sleep.
func claimForPublish(msgs []state.OutboxMessage, now time.Time) {
	until := now.Add(publishClaim)
	for i := range msgs {
		if !msgs[i].DeliverAt.After(now) {
			msgs[i].ClaimedUntil = until
		}
	}
}

// publishNow publishes a committed decision's messages that
// claimForPublish claimed, at once, and deletes them from the outbox; the
// others (delayed ones) and any that fail here are left to the relay. A
// message the relay also publishes is de-duplicated by the broker.
func (s *Scheduler) publishNow(ctx context.Context, msgs []state.OutboxMessage) {
	if len(msgs) == 0 {
		return
	}
	later, due := splitDue(msgs)
	delayed := len(later) > 0
	var done []int64
	errs := s.publish(ctx, due)
	for i, m := range due {
		if errs[i] != nil || m.Seq == 0 {
			delayed = true // the relay publishes (again) and deletes it
			continue
		}
		done = append(done, m.Seq)
	}
	s.metrics.published.Add(float64(len(done)))
	if len(done) > 0 && !s.deleteLater(done) {
		if err := s.cfg.Store.OutboxDelete(ctx, done); err != nil {
			s.log.DebugContext(ctx, "scheduler: outbox delete failed; the relay will republish (de-duplicated)", "error", err)
		}
	}
	if delayed {
		s.signal()
	}
}

// publishDirect publishes a committed decision's due messages that have no
// outbox row (Config.EphemeralStore), trying again for a while when the
// broker refuses them: nothing else would publish them.
func (s *Scheduler) publishDirect(ctx context.Context, msgs []state.OutboxMessage) {
	for try := 0; len(msgs) > 0; try++ {
		errs := s.publish(ctx, msgs)
		failed := msgs[:0]
		for i, m := range msgs {
			if errs[i] != nil {
				failed = append(failed, m)
			}
		}
		s.metrics.published.Add(float64(len(msgs) - len(failed)))
		if len(failed) == 0 {
			return
		}
		if try == directTries-1 || ctx.Err() != nil {
			s.log.ErrorContext(ctx, "scheduler: publishing tasks failed; their runs will not go on", "tasks", len(failed),
				"run_id", failed[0].RunID, "error", errors.Join(errs...))
			return
		}
		msgs = failed
		time.Sleep(directRetry)
	}
}

// directTries and directRetry bound publishDirect's attempts: an
// in-process broker that refuses a publish for seconds is shutting down.
const (
	directTries = 50
	directRetry = 100 * time.Millisecond
)

// publish publishes msgs and returns each one's outcome. A fan-out's tasks
// go out together (queue.PublishAll), so the last branch does not wait for
// every earlier acknowledgement; a single task is published on this
// goroutine.
func (s *Scheduler) publish(ctx context.Context, msgs []state.OutboxMessage) []error {
	switch len(msgs) {
	case 0:
		return nil
	case 1:
		return []error{s.cfg.Broker.Publish(ctx, outboxQueueMessage(msgs[0]))}
	}
	qms := make([]queue.Message, len(msgs))
	for i, m := range msgs {
		qms[i] = outboxQueueMessage(m)
	}
	return queue.PublishAll(ctx, s.cfg.Broker, qms)
}

// deadlineMessage is the event that ends run runID when the pipeline's
// timeout_seconds have passed since now; false when it has none. resumes is
// the run's RunState.Resumes, carried in the completion's Attempt: a
// deadline set before the run's last resume is stale.
func deadlineMessage(g *dag.Graph, runID string, resumes int, now time.Time) (state.OutboxMessage, bool) {
	t := g.Pipeline.TimeoutSeconds
	if t <= 0 {
		return state.OutboxMessage{}, false
	}
	id := "deadline." + runID
	if resumes > 0 {
		id += "." + strconv.Itoa(resumes)
	}
	body, _ := json.Marshal(worker.Completion{Kind: kindRunTimeout, RunID: runID, Attempt: resumes})
	return state.OutboxMessage{RunID: runID, Queue: queue.EventsQueue, MsgID: id, Body: body,
		DeliverAt: now.Add(time.Duration(t * float64(time.Second)))}, true
}

// outboxQueueMessage is the broker message an outbox row stands for.
func outboxQueueMessage(m state.OutboxMessage) queue.Message {
	return queue.Message{ID: m.MsgID, Queue: m.Queue, Priority: queue.Priority(m.Priority), Headers: m.Headers, Body: m.Body}
}

// deleteLater queues published outbox rows to be deleted by the next
// commit's transaction, or by the relay when no commit comes soon; false
// when no relay runs (delete them now).
func (s *Scheduler) deleteLater(seqs []int64) bool {
	s.delMu.Lock()
	defer s.delMu.Unlock()
	if !s.relaying {
		return false
	}
	s.commits.published.add(seqs)
	select {
	case s.delKick <- struct{}{}:
	default:
	}
	return true
}

// flushDeletes deletes the queued published rows. A row published but not
// yet deleted may be swept and published again by a relay: the broker
// de-duplicates it by message id.
func (s *Scheduler) flushDeletes(ctx context.Context) {
	seqs := s.commits.published.take()
	if len(seqs) == 0 {
		return
	}
	if err := s.cfg.Store.OutboxDelete(ctx, seqs); err != nil {
		s.log.DebugContext(ctx, "scheduler: outbox delete failed; the relay will republish (de-duplicated)", "error", err)
	}
}

// attemptDone is the record of the attempt ev ends.
func (s *Scheduler) attemptDone(st *dag.RunState, ev dag.Event, e attemptEnd) state.StepAttempt {
	a := state.StepAttempt{RunID: st.RunID, StepID: ev.StepID, Iteration: ev.Iteration, Attempt: ev.Attempt, Status: "succeeded", Input: e.input}
	end := ev.At
	a.FinishedAt = &end
	if !e.began.IsZero() {
		began := e.began
		a.StartedAt = &began
	}
	output := e.output
	if ev.Type == dag.EventStepFailed {
		a.Status = "failed"
		if ev.Error != nil {
			a.Error = ev.Error.Message
		}
	} else if output != nil {
		a.Output = output
	} else if ev.Output != nil {
		a.Output, _ = json.Marshal(ev.Output)
	}
	a.WorkerID = ev.Reason
	return a
}

// translate turns actions into the durable writes of one decision.
// The caller encodes the run state (once for a batch of decisions).
func (s *Scheduler) translate(ctx context.Context, g *dag.Graph, slug string, st *dag.RunState, acts []dag.Action, now time.Time) (*state.RunUpdateParams, error) {
	u := &state.RunUpdateParams{}
	for _, a := range acts {
		switch a.Kind {
		case dag.ActionStartStep:
			t := worker.Task{RunID: st.RunID, StepID: a.StepID, Iteration: a.Iteration, Attempt: a.Attempt, Class: a.Class,
				Module: a.Module, Data: a.Input(), Inputs: a.Inputs, Config: a.Config, TimeoutMS: a.Timeout.Milliseconds()}
			body, err := t.AppendJSON(nil)
			if err != nil {
				return nil, fmt.Errorf("encoding task for step %q: %w", a.StepID, err)
			}
			if len(body) > s.cfg.InlineLimit {
				data, _ := json.Marshal(t.Data)
				ref := fmt.Sprintf("input/%s/%s/%d/%d", st.RunID, a.StepID, a.Iteration, a.Attempt)
				if err := s.cfg.Store.BlobPut(ctx, ref, data); err != nil {
					return nil, fmt.Errorf("storing large input of step %q: %w", a.StepID, err)
				}
				t.Data, t.DataRef = nil, ref
				body, _ = t.AppendJSON(nil)
			}
			q := cmp.Or(a.Queue, queue.DefaultTaskQueue)
			msg := state.OutboxMessage{RunID: st.RunID, Queue: q, MsgID: worker.TaskMsgID(st.RunID, a.StepID, a.Iteration, a.Attempt),
				Body: body, Headers: map[string]string{"run_id": st.RunID, "step_id": a.StepID}}
			if name := s.direct.Load(); name != nil {
				msg.Headers[worker.HeaderScheduler] = *name
			}
			if a.Delay > 0 {
				msg.DeliverAt = now.Add(a.Delay)
			}
			u.Outbox = append(u.Outbox, msg)
			input, _ := jsonx.AppendValue(nil, a.Inputs)
			started := now.Add(a.Delay)
			u.Attempts = append(u.Attempts, state.StepAttempt{RunID: st.RunID, StepID: a.StepID, Iteration: a.Iteration,
				Attempt: a.Attempt, Status: "running", Input: input, StartedAt: &started})
		case dag.ActionSkipStep:
			u.Attempts = append(u.Attempts, state.StepAttempt{RunID: st.RunID, StepID: a.StepID, Iteration: a.Iteration, Status: "skipped"})
		case dag.ActionWaitHuman:
			h := a.Human
			ui, _ := json.Marshal(h.UISchema)
			cfg, _ := json.Marshal(h.Config)
			ht := state.HumanTask{ID: uuid.NewString(), RunID: st.RunID, StepID: a.StepID, Iteration: a.Iteration,
				Pipeline: slug, Status: state.HumanPending, Prompt: h.Prompt, UISchema: ui, Assignees: h.Assignees,
				Quorum: h.Quorum, Config: cfg, CreatedAt: now}
			if h.TimeoutSeconds > 0 {
				dl := now.Add(time.Duration(h.TimeoutSeconds * float64(time.Second)))
				ht.Deadline = &dl
			}
			u.HumanTasks = append(u.HumanTasks, ht)
			if ht.Deadline != nil {
				u.Outbox = append(u.Outbox, humanTimeoutMessage(ht, 1))
			}
			u.Attempts = append(u.Attempts, state.StepAttempt{RunID: st.RunID, StepID: a.StepID, Iteration: a.Iteration, Attempt: max(stepAttempt(g, st, a.StepID), 1), Status: "waiting"})
		case dag.ActionCancelStep:
			u.Attempts = append(u.Attempts, state.StepAttempt{RunID: st.RunID, StepID: a.StepID, Iteration: a.Iteration, Attempt: stepAttempt(g, st, a.StepID), Status: "cancelled"})
		case dag.ActionFinishRun:
			out, err := jsonx.AppendValue(nil, a.Output)
			if err != nil {
				return nil, fmt.Errorf("encoding run output: %w", err)
			}
			u.Output = out
			u.Finished = true
			s.metrics.runs.WithLabelValues(string(a.Status)).Inc()
		}
	}
	return u, nil
}

func stepAttempt(g *dag.Graph, st *dag.RunState, id string) int {
	ss, _ := g.Step(st, id)
	return ss.Attempt
}

// handle applies one completion from the events queue.
func (s *Scheduler) handle(ctx context.Context, d queue.Delivery) {
	var c worker.Completion
	if err := worker.DecodeCompletion(d.Message().Body, &c); err != nil {
		s.log.ErrorContext(ctx, "scheduler: undecodable event dropped", "error", err, "msg_id", d.Message().ID)
		_ = d.Term(ctx)
		return
	}
	log := s.log.With("run_id", c.RunID, "step_id", c.StepID, "iteration", c.Iteration, "attempt", c.Attempt)
	switch c.Kind {
	case kindHumanTimeout:
		s.settle(ctx, d, log, s.humanTimeout(ctx, &c))
		return
	case kindRunTimeout:
		s.settle(ctx, d, log, s.Apply(ctx, c.RunID, dag.Event{Type: dag.EventDeadlineExceeded, Resumes: c.Attempt}))
		return
	}
	// The delivery stays unacknowledged while it is handed on or applied:
	// the completion is kept.
	c.Durable = true
	if s.handOn(ctx, &c, nil) {
		_ = d.Ack(ctx)
		return
	}
	ev, end, err := s.completionEvent(ctx, &c)
	if err != nil {
		log.WarnContext(ctx, "scheduler: loading large output failed; retrying", "error", err)
		_ = d.Nak(ctx, completionRedeliver)
		return
	}
	end.kept = true
	err = s.apply(ctx, c.RunID, ev, end)
	if errors.Is(err, dag.ErrAhead) {
		s.ahead(ctx, d, log, &c, err)
		return
	}
	s.settle(ctx, d, log, err)
}

// ahead settles a completion that is ahead of its run's state: the task it
// completes was published before the decision that started it committed
// (publishBeforeCommit), and that decision has not committed yet, or was
// lost with its scheduler. The completion that leads to the decision is
// then delivered again and takes it anew, so this one is offered again
// until it applies, for Config.AheadHold. After that it is dropped: the
// decision taken anew, if ever, publishes the task again, past the
// broker's de-duplication window, and the step runs again.
func (s *Scheduler) ahead(ctx context.Context, d queue.Delivery, log *slog.Logger, c *worker.Completion, err error) {
	if time.Since(c.EndedAt) < s.cfg.AheadHold {
		s.metrics.ahead.WithLabelValues("held").Inc()
		log.DebugContext(ctx, "scheduler: completion ahead of its run's state; offered again", "reason", err)
		_ = d.Nak(ctx, completionRedeliver)
		return
	}
	s.metrics.ahead.WithLabelValues("dropped").Inc()
	log.WarnContext(ctx, "scheduler: completion ahead of its run's state for longer than the hold; dropped (the decision that started its step was lost)",
		"reason", err, "hold", s.cfg.AheadHold)
	_ = d.Ack(ctx)
}

// Complete applies a step completion handed over in process by a worker
// sharing this process (worker.Config.Local), skipping the events queue. It
// returns nil once the completion is committed (here, or by the scheduler
// that decided the task, to which it is handed on), or when it is stale and
// dropped; on any other error nothing was committed and the worker sends
// the completion over the broker instead.
func (s *Scheduler) Complete(ctx context.Context, c *worker.Completion) error {
	if s.handOn(ctx, c, nil) {
		return nil
	}
	return s.complete(ctx, c)
}

// complete is Complete without handing the completion on.
func (s *Scheduler) complete(ctx context.Context, c *worker.Completion) error {
	ev, end, err := s.completionEvent(ctx, c)
	if err != nil {
		return err
	}
	end.kept = c.Durable
	err = s.apply(ctx, c.RunID, ev, end)
	if dropped(err) {
		if err != nil {
			s.log.DebugContext(ctx, "scheduler: event dropped", "run_id", c.RunID, "step_id", c.StepID, "reason", err)
			s.metrics.stale.Inc()
		}
		return nil
	}
	return err
}

// completionEvent turns a worker's completion into the DAG event it
// reports, loading an output stored as a blob, and returns what the attempt
// record needs beyond the event.
func (s *Scheduler) completionEvent(ctx context.Context, c *worker.Completion) (dag.Event, attemptEnd, error) {
	ev := dag.Event{StepID: c.StepID, Iteration: c.Iteration, Attempt: c.Attempt, At: c.EndedAt, Reason: c.WorkerID}
	end := attemptEnd{input: c.Input, began: c.StartedAt}
	if c.Error != nil {
		ev.Type = dag.EventStepFailed
		ev.Error = &dag.StepError{Message: c.Error.Message, Code: c.Error.Code, Retryable: c.Error.Retryable,
			RetryAfter: time.Duration(c.Error.RetryAfterMS) * time.Millisecond, Snooze: c.Error.Snooze}
		return ev, end, nil
	}
	ev.Type = dag.EventStepSucceeded
	raw := []byte(c.Output)
	if c.OutputRef != "" {
		b, err := s.cfg.Store.BlobGet(ctx, c.OutputRef)
		if err != nil {
			return ev, end, fmt.Errorf("loading output %s: %w", c.OutputRef, err)
		}
		raw = b
	}
	if len(raw) == 0 {
		return ev, end, nil
	}
	var err error
	if ev.Output, err = jsonx.Unmarshal(raw); err != nil {
		ev.Type = dag.EventStepFailed
		ev.Error = &dag.StepError{Message: "step output is not JSON: " + err.Error(), Code: "bad_output"}
		return ev, end, nil
	}
	if ev.Output != nil { // null: no output, as the attempt records it
		end.output = raw
	}
	return ev, end, nil
}

// dropped reports outcomes of Apply that settle an event without effect:
// applied (nil), or harmlessly stale.
func dropped(err error) bool {
	return err == nil || errors.Is(err, dag.ErrStale) || errors.Is(err, dag.ErrUnknownStep) || errors.Is(err, state.ErrNotFound)
}

// settle acks an applied (or harmlessly stale) event and hands back one
// whose application failed, for redelivery.
func (s *Scheduler) settle(ctx context.Context, d queue.Delivery, log *slog.Logger, err error) {
	switch {
	case dropped(err):
		if err != nil {
			log.DebugContext(ctx, "scheduler: event dropped", "reason", err)
			s.metrics.stale.Inc()
		}
		_ = d.Ack(ctx)
	default:
		log.WarnContext(ctx, "scheduler: applying event failed; it will be redelivered", "error", err)
		_ = d.Nak(ctx, completionRedeliver)
	}
}

// newRunID returns a version 7 UUID: its leading bits are the time, so the
// runs in flight, which are recent, share the last pages of every index
// keyed by run (the run, its attempts) instead of one random page each, and
// a commit writes fewer pages.
func newRunID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString() // no time source: still unique
	}
	return id.String()
}
