package cli

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/ia-modules/ia-go/internal/bench"
)

func newBenchCommand() *cobra.Command {
	var (
		cfg        bench.Config
		cpuProfile string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure engine throughput and step-to-step latency against the raw broker",
		Long: "Runs a 10-step no-op chain and a 1-50-1 fan-out on a real engine and prints runs/s and steps/s\n" +
			"with many runs in flight, p50/p99 of the step-to-next-step hop and Submit-to-first-step with one run\n" +
			"at a time, each beside the same figure for a bare task chain on the same broker.\n\n" +
			"embedded: in-process NATS and SQLite in a temporary directory, as ia run (with --data-dir: in that\n" +
			"directory, which keeps the runs, as ia dev). distributed: Postgres (IA_DATABASE_URL, TEST_DATABASE_URL)\n" +
			"and JetStream (IA_QUEUE_URL, TEST_NATS_URL) or, with --queue asynq, Redis (IA_QUEUE_URL, TEST_REDIS_URL),\n" +
			"in a unique schema and stream or queue prefix that is dropped at the end.\n" +
			"Progress goes to stderr, the table to stdout.",
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Progress = cmd.ErrOrStderr()
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return &ExitError{Code: ExitFailure, Err: err}
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return &ExitError{Code: ExitFailure, Err: err}
				}
				defer pprof.StopCPUProfile()
			}
			rep, err := bench.Run(cmd.Context(), cfg)
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			fmt.Fprintln(cmd.ErrOrStderr())
			return rep.Print(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Mode, "mode", bench.ModeEmbedded, "embedded, distributed or both")
	f.StringVar(&cfg.Queue, "queue", bench.QueueNATS, "distributed broker: nats (JetStream) or asynq (Redis)")
	f.IntVar(&cfg.Runs, "runs", bench.DefaultRuns, "runs made one at a time per workload for the latency figures")
	f.IntVar(&cfg.Concurrency, "concurrency", bench.DefaultConcurrency, "runs in flight in the saturated phase")
	f.DurationVar(&cfg.Duration, "duration", bench.DefaultDuration, "length of each saturated phase")
	f.IntVar(&cfg.Rounds, "rounds", bench.DefaultRounds, "slices each phase is split into, the engine and the raw chain taking turns (keep duration/rounds ≥ 1s)")
	f.IntVar(&cfg.WorkerConcurrency, "worker-concurrency", bench.DefaultWorkerConcurrency, "worker concurrency per queue")
	f.StringVar(&cfg.DataDir, "data-dir", "", "embedded: keep the data in this directory, as ia dev does, instead of a temporary one as ia run does")
	f.IntVar(&cfg.Schedulers, "schedulers", 1, "distributed: schedulers in the engine (the others as separate scheduler processes would be, sharing the completions)")
	f.BoolVar(&cfg.LocalCompletions, "local-completions", false, "distributed: hand completions to the in-process scheduler, as one ia serve process does, instead of the events queue")
	f.StringVar(&cfg.DatabaseURL, "database-url", "", "distributed Postgres URL (default IA_DATABASE_URL, TEST_DATABASE_URL, local)")
	f.StringVar(&cfg.QueueURL, "queue-url", "", "distributed broker URL (default IA_QUEUE_URL, TEST_NATS_URL/TEST_REDIS_URL, local)")
	f.StringVar(&cfg.RedisURL, "redis-url", "", "distributed: hot state (live run events) in Redis, as a deployment with IA_REDIS_URL (default IA_REDIS_URL; none: in process)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	return cmd
}
