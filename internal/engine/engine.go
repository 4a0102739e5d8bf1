// Package engine wires the backends chosen by configuration (URLs) into a
// scheduler and workers. It is the one place that knows every backend;
// cmd/ia, cmd/scheduler and cmd/worker all open the engine through it, so
// the embedded mode is the same code path as the distributed binaries.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ia-modules/ia-go/pkg/dag"
	"github.com/ia-modules/ia-go/pkg/queue"
	"github.com/ia-modules/ia-go/pkg/queue/queueasynq"
	"github.com/ia-modules/ia-go/pkg/queue/queuenats"
	"github.com/ia-modules/ia-go/pkg/scheduler"
	"github.com/ia-modules/ia-go/pkg/state"
	"github.com/ia-modules/ia-go/pkg/state/statemem"
	"github.com/ia-modules/ia-go/pkg/state/statepg"
	"github.com/ia-modules/ia-go/pkg/state/stateredis"
	"github.com/ia-modules/ia-go/pkg/state/statesqlite"
	"github.com/ia-modules/ia-go/pkg/steps"
	"github.com/ia-modules/ia-go/pkg/worker"
)

// ErrConfig marks an error in the configuration itself (an unsupported
// URL), which no retry mends; any other error of Open may be a backend not
// reachable yet.
var ErrConfig = errors.New("invalid configuration")

// Config selects backends by URL. Empty URLs mean the embedded defaults: an
// in-process NATS server with JetStream and a SQLite store under DataDir.
type Config struct {
	// DatabaseURL: postgres://... for Postgres; "" or sqlite:PATH for the
	// embedded store (default DataDir/ia.db).
	DatabaseURL string
	// QueueURL: nats://... (JetStream) or redis://... (asynq); "" starts an
	// in-process NATS server storing under DataDir/nats.
	QueueURL string
	// RedisURL: redis://... for shared hot state (live events, idempotency
	// claims, rate limits); "" keeps it in process (one-process mode only).
	RedisURL string
	// DataDir holds embedded data; "" uses a temporary directory removed on
	// Close, whose SQLite store then skips its syncs to disk (nothing in it
	// outlives the process; see statesqlite.Config.NoSync).
	DataDir string
	// Prefix namespaces streams, queues and the Postgres schema.
	Prefix string
	// Registry of Go steps; nil registers the built-ins.
	Registry *steps.Registry
	// Python runs steps that name a module; PythonPaths go on sys.path.
	Python      string
	PythonPaths []string
	// Scheduler and Worker enable those roles in this process.
	Scheduler, Worker bool
	// RelayPoll is the scheduler's outbox sweep interval (0: its default).
	RelayPoll time.Duration
	// AckWait is how long a task or event may stay unsettled before the
	// broker redelivers it, i.e. how soon work of a dead process resumes
	// (0: 30s). Workers heartbeat long steps, so it need not exceed them.
	AckWait time.Duration
	// BrokerCompletions sends every completion over the events queue even
	// when this process runs both roles (which otherwise hands them to its
	// scheduler in process); for measuring the scale-out path.
	BrokerCompletions bool
	// NoDirect: the scheduler neither serves nor uses the broker's direct
	// lane (JetStream's request-reply between schedulers), over which a
	// completion is handed on to the scheduler that decided its task.
	NoDirect bool
	// HoldRunLocks is the scheduler's scheduler.Config.HoldRunLocks: how
	// long a run's transaction is held open for its next decisions
	// (Postgres); 0: the default, negative: never.
	HoldRunLocks time.Duration
	// CommitDelay is the scheduler's scheduler.Config.CommitDelay: 0 uses
	// CommitDelaySQLite on the SQLite store and none on Postgres (whose
	// groups grow while a commit waits for its fsync); negative: none.
	CommitDelay time.Duration
	// WorkerConcurrency per queue; WorkerQueues to consume.
	WorkerConcurrency int
	WorkerQueues      []string
	Logger            *slog.Logger
	Registerer        prometheus.Registerer
}

// CommitDelaySQLite is the default CommitDelay on SQLite: under load it
// lifted an embedded 10-step chain's throughput by 5-10 % in alternating
// runs (docs/benchmarks.md, change 20), and a lone decision never waits.
const CommitDelaySQLite = 250 * time.Microsecond

// CommitDelayFor is the scheduler's CommitDelay on st for a configured one
// (see Config.CommitDelay).
func CommitDelayFor(st state.Store, configured time.Duration) time.Duration {
	if _, ok := st.(*statesqlite.Store); ok && configured == 0 {
		return CommitDelaySQLite
	}
	return max(configured, 0)
}

// CommitDelayEnv reads IA_COMMIT_DELAY, a Config.CommitDelay; unset is 0.
func CommitDelayEnv() (time.Duration, error) { return durationEnv("IA_COMMIT_DELAY") }

// HoldRunLocksEnv returns IA_HOLD_RUN_LOCKS as a duration, 0 when unset.
func HoldRunLocksEnv() (time.Duration, error) { return durationEnv("IA_HOLD_RUN_LOCKS") }

// durationEnv returns the environment variable key as a duration, 0 when
// unset.
func durationEnv(key string) (time.Duration, error) {
	v := os.Getenv(key)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
	}
	return d, nil
}

// Engine is an opened set of backends with the roles this process runs.
type Engine struct {
	Store     state.Store
	Broker    queue.Broker
	Hot       state.Hot
	Scheduler *scheduler.Scheduler
	Worker    *worker.Worker
	Registry  *steps.Registry
	// Classes is what the engine's schedulers check pipelines' step classes
	// against, nil for no check. Only a process whose broker is its own
	// in-process server (and that runs the worker) knows every class a step
	// can be run by; on a shared broker, workers elsewhere may register
	// classes this process has never heard of (a custom worker binary).
	Classes dag.Registry

	closers []func() error
}

// Open connects (or starts) the backends and builds the roles.
func Open(ctx context.Context, cfg Config) (_ *Engine, err error) {
	e := &Engine{}
	defer func() {
		if err != nil {
			_ = e.Close(context.WithoutCancel(ctx))
		}
	}()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "ia"
	}
	ephemeral := false
	if cfg.DataDir == "" && (cfg.DatabaseURL == "" || cfg.QueueURL == "") {
		dir, err := os.MkdirTemp("", "ia-run-*")
		if err != nil {
			return nil, fmt.Errorf("engine: data dir: %w", err)
		}
		cfg.DataDir, ephemeral = dir, true
		e.closers = append(e.closers, func() error { return os.RemoveAll(dir) })
	}
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("engine: data dir: %w", err)
		}
	}
	if err := e.openStore(ctx, cfg, ephemeral, log); err != nil {
		return nil, err
	}
	if err := e.openBroker(ctx, cfg, log); err != nil {
		return nil, err
	}
	if err := e.openHot(ctx, cfg, log); err != nil {
		return nil, err
	}
	e.Registry = cfg.Registry
	if e.Registry == nil {
		e.Registry = steps.Builtins()
	}
	if cfg.QueueURL == "" && cfg.Worker {
		e.Classes = e.Registry
	}
	if cfg.Scheduler {
		// The default of one group commit at a time suits Postgres too: on
		// a CPU-bound box larger batches cost the server less per decision
		// (docs/benchmarks.md).
		e.Scheduler, err = scheduler.New(scheduler.Config{Store: e.Store, Broker: e.Broker, Hot: e.Hot, RelayPoll: cfg.RelayPoll, AckWait: cfg.AckWait,
			CommitDelay: CommitDelayFor(e.Store, cfg.CommitDelay), Registry: e.Classes, NoDirect: cfg.NoDirect, HoldRunLocks: cfg.HoldRunLocks,
			EphemeralStore: ephemeral && cfg.DatabaseURL == "", Logger: log, Registerer: cfg.Registerer})
		if err != nil {
			return nil, err
		}
	}
	if cfg.Worker {
		var local worker.Completer
		if e.Scheduler != nil && !cfg.BrokerCompletions {
			local = e.Scheduler
		}
		e.Worker, err = worker.New(worker.Config{Local: local,
			Broker: e.Broker, Hot: e.Hot, Registry: e.Registry, Blobs: e.Store, Queues: cfg.WorkerQueues,
			Concurrency: cfg.WorkerConcurrency, AckWait: cfg.AckWait, Logger: log, Registerer: cfg.Registerer,
			Fallback: steps.PythonHandler(steps.PythonConfig{Python: cfg.Python, Paths: cfg.PythonPaths}),
		})
		if err != nil {
			return nil, err
		}
	}
	return e, nil
}

// openStore opens the store cfg names. ephemeral: cfg.DataDir is a
// temporary directory removed on Close.
func (e *Engine) openStore(ctx context.Context, cfg Config, ephemeral bool, log *slog.Logger) error {
	u := cfg.DatabaseURL
	switch {
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		st, err := statepg.New(ctx, statepg.Config{URL: u, Schema: cfg.Prefix, Logger: log})
		if err != nil {
			return fmt.Errorf("engine: postgres: %w", err)
		}
		e.Store = st
	case u == "" || strings.HasPrefix(u, "sqlite:"):
		path := strings.TrimPrefix(u, "sqlite:")
		noSync := false
		if path == "" {
			path = filepath.Join(cfg.DataDir, "ia.db")
			// A database in a directory removed on Close outlives no
			// crash of the process, so it need not survive the machine's.
			noSync = ephemeral
		}
		st, err := statesqlite.New(ctx, statesqlite.Config{Path: path, NoSync: noSync, Logger: log})
		if err != nil {
			return fmt.Errorf("engine: sqlite %s: %w", path, err)
		}
		e.Store = st
	default:
		return fmt.Errorf("engine: unsupported database URL %q (want postgres://... or sqlite:PATH): %w", redact(u), ErrConfig)
	}
	e.closers = append(e.closers, e.Store.Close)
	return nil
}

func (e *Engine) openBroker(ctx context.Context, cfg Config, log *slog.Logger) error {
	u := cfg.QueueURL
	switch {
	case u == "":
		srv, err := queuenats.StartEmbedded(ctx, queuenats.EmbeddedConfig{StoreDir: filepath.Join(cfg.DataDir, "nats")})
		if err != nil {
			return fmt.Errorf("engine: embedded nats: %w", err)
		}
		e.closers = append(e.closers, func() error { srv.Shutdown(); return nil })
		nc, err := srv.Connect("ia-engine")
		if err != nil {
			return fmt.Errorf("engine: embedded nats: %w", err)
		}
		e.closers = append(e.closers, func() error { nc.Close(); return nil })
		b, err := queuenats.New(ctx, queuenats.Config{Conn: nc, Prefix: cfg.Prefix, Logger: log})
		if err != nil {
			return fmt.Errorf("engine: nats: %w", err)
		}
		e.Broker = b
	case strings.HasPrefix(u, "nats://"), strings.HasPrefix(u, "tls://"):
		b, err := queuenats.New(ctx, queuenats.Config{URL: u, Prefix: cfg.Prefix, Logger: log})
		if err != nil {
			return fmt.Errorf("engine: nats: %w", err)
		}
		e.Broker = b
	case strings.HasPrefix(u, "redis://"), strings.HasPrefix(u, "rediss://"):
		b, err := queueasynq.New(ctx, queueasynq.Config{RedisURL: u, Prefix: cfg.Prefix, Logger: log})
		if err != nil {
			return fmt.Errorf("engine: asynq: %w", err)
		}
		e.Broker = b
	default:
		return fmt.Errorf("engine: unsupported queue URL %q (want nats://... or redis://...): %w", redact(u), ErrConfig)
	}
	e.closers = append(e.closers, e.Broker.Close)
	return nil
}

func (e *Engine) openHot(ctx context.Context, cfg Config, log *slog.Logger) error {
	switch u := cfg.RedisURL; {
	case u == "":
		e.Hot = statemem.New(statemem.Config{})
	case strings.HasPrefix(u, "redis://"), strings.HasPrefix(u, "rediss://"):
		h, err := stateredis.New(ctx, stateredis.Config{URL: u, Prefix: hotPrefix(cfg.Prefix), Logger: log})
		if err != nil {
			return fmt.Errorf("engine: redis hot state: %w", err)
		}
		e.Hot = h
	default:
		return fmt.Errorf("engine: unsupported redis URL %q (want redis://...): %w", redact(u), ErrConfig)
	}
	e.closers = append(e.closers, e.Hot.Close)
	return nil
}

// Start starts the roles.
func (e *Engine) Start(ctx context.Context) error {
	if e.Scheduler != nil {
		if err := e.Scheduler.Start(ctx); err != nil {
			return err
		}
	}
	if e.Worker != nil {
		if err := e.Worker.Start(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the roles gracefully within ctx and closes the backends in
// reverse order of opening.
func (e *Engine) Close(ctx context.Context) error {
	var errs []error
	if e.Worker != nil {
		errs = append(errs, e.Worker.Stop(ctx))
	}
	if e.Scheduler != nil {
		errs = append(errs, e.Scheduler.Stop(ctx))
	}
	for i := len(e.closers) - 1; i >= 0; i-- {
		errs = append(errs, e.closers[i]())
	}
	e.closers = nil
	return errors.Join(errs...)
}

// hotPrefix is the hot state's key prefix of an engine's namespace.
func hotPrefix(prefix string) string { return prefix + ":" }

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = url.User(u.User.Username())
	return u.String()
}
