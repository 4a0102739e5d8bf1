// Package service runs one engine role (scheduler, worker, or both) as a
// long-lived process: configuration from flags and IA_* environment
// variables, /metrics and /healthz over HTTP, slog logging, and a graceful
// stop on SIGTERM/SIGINT.
package service

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ia-modules/ia-go/internal/engine"
	"github.com/ia-modules/ia-go/pkg/scheduler"
	"github.com/ia-modules/ia-go/pkg/steps"
)

// Role selects what the process runs.
type Role struct {
	Name      string
	Scheduler bool
	Worker    bool
}

// Main parses args and the environment, runs the role until a signal or
// ctx ends, and returns the exit code. registry adds Go steps (nil: the
// built-ins), so a user can build a worker binary with their own steps.
func Main(ctx context.Context, role Role, args []string, registry *steps.Registry, stderr io.Writer) int {
	fs := flag.NewFlagSet(role.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	dbURL := fs.String("database-url", env("IA_DATABASE_URL", ""), "state store: postgres://... or sqlite:PATH (env IA_DATABASE_URL)")
	queueURL := fs.String("queue-url", env("IA_QUEUE_URL", ""), "broker: nats://... or redis://... (env IA_QUEUE_URL)")
	redisURL := fs.String("redis-url", env("IA_REDIS_URL", ""), "hot state: redis://... (env IA_REDIS_URL)")
	prefix := fs.String("prefix", env("IA_PREFIX", "ia"), "namespace for streams, queues and the Postgres schema (env IA_PREFIX)")
	addr := fs.String("http-addr", env("IA_HTTP_ADDR", ":9090"), "address for /metrics and /healthz (env IA_HTTP_ADDR)")
	queues := fs.String("queues", env("IA_QUEUES", "default"), "comma-separated task queues to consume (env IA_QUEUES)")
	concurrency := fs.Int("concurrency", 8, "steps run at once per queue")
	relayPoll := fs.Duration("relay-poll", 0, "how often the outbox is swept for messages other schedulers left (default 1s)")
	ackWait := fs.Duration("ack-wait", 0, "how long a task or event may stay unsettled before redelivery: how soon a dead process's work resumes (default 30s)")
	envDelay, delayErr := engine.CommitDelayEnv()
	commitDelay := fs.Duration("commit-delay", envDelay, "how long a busy scheduler's group commit waits for more decisions; 0: "+engine.CommitDelaySQLite.String()+" on SQLite, none on Postgres; negative: none (env IA_COMMIT_DELAY)")
	envHold, holdErr := engine.HoldRunLocksEnv()
	holdRunLocks := fs.Duration("hold-run-locks", envHold, "scheduler on Postgres: how long a run's transaction stays open for its next decisions, which then publish without a round trip to the store; 0: "+scheduler.DefaultHoldRunLocks.String()+", negative: never (env IA_HOLD_RUN_LOCKS; see docs/guarantees.md)")
	noDirect := fs.Bool("no-direct", env("IA_NO_DIRECT", "") != "", "scheduler: do not hand completions on to the scheduler that decided their task over JetStream's direct lane, nor take them from others (env IA_NO_DIRECT; see docs/guarantees.md)")
	grace := fs.Duration("shutdown-grace", 30*time.Second, "time in-flight steps get to finish on SIGTERM")
	pythonPaths := fs.String("python-path", env("IA_PYTHON_PATH", ""), "colon-separated directories of Python step modules (env IA_PYTHON_PATH)")
	level := fs.String("log-level", env("IA_LOG_LEVEL", "info"), "debug, info, warn or error (env IA_LOG_LEVEL)")
	if err := cmp.Or(delayErr, holdErr); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", role.Name, err)
		return 64
	}
	if err := fs.Parse(args); err != nil {
		return 64
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(stderr, "%s: bad -log-level: %v\n", role.Name, err)
		return 64
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: lvl})).With("service", role.Name)
	if *dbURL == "" || *queueURL == "" {
		fmt.Fprintf(stderr, "%s: -database-url and -queue-url are required (IA_DATABASE_URL, IA_QUEUE_URL)\n", role.Name)
		return 64
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var paths []string
	if *pythonPaths != "" {
		paths = strings.Split(*pythonPaths, ":")
	}
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()
	cfg := engine.Config{
		DatabaseURL: *dbURL, QueueURL: *queueURL, RedisURL: *redisURL, Prefix: *prefix,
		Registry: registry, PythonPaths: paths, Scheduler: role.Scheduler, Worker: role.Worker,
		RelayPoll: *relayPoll, AckWait: *ackWait, CommitDelay: *commitDelay, NoDirect: *noDirect, HoldRunLocks: *holdRunLocks, WorkerConcurrency: *concurrency, WorkerQueues: strings.Split(*queues, ","), Logger: log, Registerer: reg,
	}
	eng, err := openEngine(ctx, log, func() (*engine.Engine, error) { return engine.Open(runCtx, cfg) })
	if err != nil {
		log.Error(role.Name+": opening the engine failed", "error", err)
		return 1
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Error(role.Name+": listen failed", "addr", *addr, "error", err)
		_ = eng.Close(context.Background())
		return 1
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		c, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if _, err := eng.Broker.Stats(c, "default"); err != nil {
			http.Error(w, "broker: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if _, err := eng.Store.PipelineList(c); err != nil {
			http.Error(w, "store: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	if err := eng.Start(runCtx); err != nil {
		log.Error(role.Name+": start failed", "error", err)
		_ = srv.Close()
		_ = eng.Close(context.Background())
		return 1
	}
	log.Info(role.Name+": running", "http_addr", ln.Addr().String(), "scheduler", role.Scheduler, "worker", role.Worker)
	<-ctx.Done()
	log.Info(role.Name + ": stopping")
	stopCtx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	err = eng.Close(stopCtx)
	_ = srv.Shutdown(stopCtx)
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Warn(role.Name+": stopped with error", "error", err)
	}
	return 0
}

// Backoff of openEngine.
const (
	openRetryFirst = 500 * time.Millisecond
	openRetryMax   = 5 * time.Second
)

// openEngine opens the engine, waiting for backends that are not reachable
// yet (a broker restarting, a database still starting beside this process)
// until ctx ends, and logging each attempt. A configuration error fails at
// once.
func openEngine(ctx context.Context, log *slog.Logger, open func() (*engine.Engine, error)) (*engine.Engine, error) {
	delay := openRetryFirst
	for attempt := 1; ; attempt++ {
		eng, err := open()
		if err == nil || errors.Is(err, engine.ErrConfig) {
			return eng, err
		}
		log.Warn("waiting for the backends", "error", err, "attempt", attempt, "retry_in", delay.String())
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(delay):
		}
		delay = min(2*delay, openRetryMax)
	}
}
