package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Defaults for Config's zero values.
const (
	DefaultRuns              = 100
	DefaultConcurrency       = 100
	DefaultDuration          = 10 * time.Second
	DefaultWorkerConcurrency = 64
	DefaultRounds            = 5
	DefaultDatabaseURL       = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	DefaultNATSURL           = "nats://127.0.0.1:4222"
	DefaultRedisURL          = "redis://127.0.0.1:6379/0"
)

// Modes and queues accepted by Config.
const (
	ModeEmbedded    = "embedded"
	ModeDistributed = "distributed"
	ModeBoth        = "both"
	QueueNATS       = "nats"
	QueueAsynq      = "asynq"
)

// Config selects what to measure. Zero values take the defaults.
type Config struct {
	// Mode is ModeEmbedded, ModeDistributed or ModeBoth. Default ModeEmbedded.
	Mode string
	// Queue is the distributed broker: QueueNATS (JetStream) or QueueAsynq.
	// Default QueueNATS. Embedded mode always runs on in-process NATS.
	Queue string
	// Runs is how many runs are made one at a time, per workload, for the
	// hop and first-step figures. Default DefaultRuns.
	Runs int
	// Concurrency is how many runs are in flight in the saturated phase.
	// Default DefaultConcurrency.
	Concurrency int
	// Duration is the length of each saturated phase. Default DefaultDuration.
	Duration time.Duration
	// Rounds splits every phase into that many slices, and the engine's
	// workloads and the raw chain take turns slice by slice, so that the
	// engine and its raw baseline see the same machine: shared 2-core
	// machines change speed by up to 2x within minutes. Default
	// DefaultRounds.
	Rounds int
	// WorkerConcurrency is the worker's per-queue concurrency (and the raw
	// consumer's). Default DefaultWorkerConcurrency.
	WorkerConcurrency int
	// DataDir, when set, keeps the embedded engine's data there, as `ia dev`
	// does, rather than in a temporary directory as `ia run` does: its
	// SQLite store then syncs to disk at every checkpoint.
	DataDir string
	// LocalCompletions makes the distributed engine hand completions to
	// its scheduler in process, as one `ia serve` process does; by default
	// they travel on the events queue, as between separate worker and
	// scheduler processes. The embedded engine always hands them over.
	LocalCompletions bool
	// Schedulers is how many schedulers the distributed engine runs
	// (default 1): the others are started in the same process, as separate
	// scheduler processes would be, and share the work of the first.
	Schedulers int
	// DatabaseURL is the distributed Postgres. Default IA_DATABASE_URL, then
	// TEST_DATABASE_URL, then DefaultDatabaseURL.
	DatabaseURL string
	// QueueURL is the distributed broker. Default IA_QUEUE_URL when it
	// matches Queue, then TEST_NATS_URL or TEST_REDIS_URL, then
	// DefaultNATSURL or DefaultRedisURL.
	QueueURL string
	// RedisURL, when set, keeps the distributed engine's hot state (live
	// run events) in Redis, as a deployment with IA_REDIS_URL does; empty:
	// in process. Default IA_REDIS_URL.
	RedisURL string
	// Workloads to measure. Default Workloads(): the 10-step chain and the
	// 1-50-1 fan-out.
	Workloads []Workload
	// Progress receives one line per phase and per second of saturated
	// load. Nil: io.Discard.
	Progress io.Writer
}

func (c *Config) setDefaults() error {
	c.Mode = cmp.Or(c.Mode, ModeEmbedded)
	c.Queue = cmp.Or(c.Queue, QueueNATS)
	c.Runs = cmp.Or(c.Runs, DefaultRuns)
	c.Concurrency = cmp.Or(c.Concurrency, DefaultConcurrency)
	c.Duration = cmp.Or(c.Duration, DefaultDuration)
	c.WorkerConcurrency = cmp.Or(c.WorkerConcurrency, DefaultWorkerConcurrency)
	c.Rounds = cmp.Or(c.Rounds, DefaultRounds)
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if len(c.Workloads) == 0 {
		c.Workloads = Workloads()
	}
	switch c.Mode {
	case ModeEmbedded, ModeDistributed, ModeBoth:
	default:
		return fmt.Errorf("bench: mode %q: want embedded, distributed or both", c.Mode)
	}
	if c.Queue != QueueNATS && c.Queue != QueueAsynq {
		return fmt.Errorf("bench: queue %q: want nats or asynq", c.Queue)
	}
	c.Schedulers = max(c.Schedulers, 1)
	if c.Runs < 1 || c.Concurrency < 1 || c.Duration <= 0 || c.WorkerConcurrency < 1 || c.Rounds < 1 {
		return errors.New("bench: runs, concurrency, duration, rounds and worker concurrency must be positive")
	}
	c.DatabaseURL = cmp.Or(c.DatabaseURL, os.Getenv("IA_DATABASE_URL"), os.Getenv("TEST_DATABASE_URL"), DefaultDatabaseURL)
	c.RedisURL = cmp.Or(c.RedisURL, os.Getenv("IA_REDIS_URL"))
	if c.QueueURL == "" {
		env := os.Getenv("IA_QUEUE_URL")
		if c.Queue == QueueNATS {
			if !strings.HasPrefix(env, "nats://") && !strings.HasPrefix(env, "tls://") {
				env = ""
			}
			c.QueueURL = cmp.Or(env, os.Getenv("TEST_NATS_URL"), DefaultNATSURL)
		} else {
			if !strings.HasPrefix(env, "redis://") && !strings.HasPrefix(env, "rediss://") {
				env = ""
			}
			c.QueueURL = cmp.Or(env, os.Getenv("TEST_REDIS_URL"), DefaultRedisURL)
		}
	}
	return nil
}

// Target is one engine setup to measure. Empty URLs mean embedded.
type Target struct {
	// Name labels the target in the report: "embedded", "distributed/nats".
	Name        string
	DatabaseURL string
	QueueURL    string
	// RedisURL holds the hot state in Redis; "" in process.
	RedisURL string
	// Prefix namespaces the schema, stream and queues; unique when empty.
	Prefix string
	// WorkerConcurrency per queue; default DefaultWorkerConcurrency.
	WorkerConcurrency int
	// BrokerCompletions sends completions over the events queue even
	// though the bench runs scheduler and worker in one process.
	BrokerCompletions bool
	// DataDir is the embedded engine's data directory; "" a temporary one.
	DataDir string
	// Schedulers beyond 1 start scheduler-only engines beside the first.
	Schedulers int
}

// Targets lists the targets cfg selects.
func (c Config) Targets() []Target {
	var ts []Target
	if c.Mode == ModeEmbedded || c.Mode == ModeBoth {
		t := Target{Name: "embedded", WorkerConcurrency: c.WorkerConcurrency}
		if c.DataDir != "" {
			t.Name, t.DataDir = "embedded+data-dir", c.DataDir
		}
		ts = append(ts, t)
	}
	if c.Mode == ModeDistributed || c.Mode == ModeBoth {
		name := "distributed/" + c.Queue
		if c.LocalCompletions {
			name += "+local"
		}
		if c.Schedulers > 1 {
			name += fmt.Sprintf("×%d", c.Schedulers)
		}
		if c.RedisURL != "" {
			name += "+redis"
		}
		ts = append(ts, Target{Name: name, DatabaseURL: c.DatabaseURL, QueueURL: c.QueueURL, RedisURL: c.RedisURL,
			WorkerConcurrency: c.WorkerConcurrency, BrokerCompletions: !c.LocalCompletions, Schedulers: c.Schedulers})
	}
	return ts
}

func uniquePrefix() string {
	return "bench_" + strings.ReplaceAll(uuid.NewString()[:13], "-", "")
}

// Figures are the measurements of one workload on one target, or of the raw
// broker chain.
type Figures struct {
	RunsPerSec  float64
	StepsPerSec float64
	HopP50      time.Duration
	HopP99      time.Duration
	// FirstP50 and FirstP99: Submit (raw: publish) to the first step's start
	// on an idle system.
	FirstP50 time.Duration
	FirstP99 time.Duration
	Hops     int // hop samples behind HopP50/HopP99
}

// Row is one workload on one target with its raw baseline.
type Row struct {
	Target   string
	Workload string
	Engine   Figures
	Raw      Figures
	// Durable is the raw durable chain's hop (one Postgres commit per
	// step), for chains on a target with Postgres; zero otherwise.
	Durable Figures
}

// Report is the result of Run.
type Report struct {
	Config  Config
	Started time.Time
	Rows    []Row
}

// Run measures every target cfg selects and returns the report. Progress
// goes to cfg.Progress.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	rep := &Report{Config: cfg, Started: time.Now()}
	for _, t := range cfg.Targets() {
		rows, err := RunTarget(ctx, cfg, t)
		if err != nil {
			return rep, fmt.Errorf("bench %s: %w", t.Name, err)
		}
		rep.Rows = append(rep.Rows, rows...)
	}
	return rep, nil
}
