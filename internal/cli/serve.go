package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/ia-modules/ia-go/internal/engine"
	"github.com/ia-modules/ia-go/pkg/api"
	"github.com/ia-modules/ia-go/pkg/scheduler"
	"github.com/ia-modules/ia-go/pkg/state"
)

// serveOptions configure runAPI.
type serveOptions struct {
	addr, dbURL, queueURL, redisURL, dataDir, prefix string
	origins                                          []string
	scheduler, worker                                bool
	// ready is called once the API listens, with the engine's store.
	ready func(ctx context.Context, url string, auth state.Auth) error
}

// runAPI opens the engine, starts the chosen roles and the API, and serves
// until ctx ends (SIGINT/SIGTERM).
func runAPI(ctx context.Context, o serveOptions) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	reg := prometheus.NewRegistry()
	delay, err := engine.CommitDelayEnv()
	if err != nil {
		return err
	}
	hold, err := engine.HoldRunLocksEnv()
	if err != nil {
		return err
	}
	// The engine opens the hot state (Redis, or memory without a URL) under
	// the same prefix as the schema and streams, so the API, its worker and
	// the other processes of the deployment share live events.
	cfg := engine.Config{DatabaseURL: o.dbURL, QueueURL: o.queueURL, RedisURL: o.redisURL,
		DataDir: o.dataDir, Prefix: o.prefix, Scheduler: o.scheduler, Worker: o.worker, CommitDelay: delay, HoldRunLocks: hold, Registerer: reg}
	eng, err := engine.Open(ctx, cfg)
	if err != nil {
		return err
	}
	hot := eng.Hot
	// With the scheduler role, the API submits through the engine's
	// scheduler, to which this process's worker hands its completions
	// directly. Without it, the API still needs a scheduler to create runs
	// and decide human tasks: one that consumes nothing.
	sched := eng.Scheduler
	if sched == nil {
		sched, err = scheduler.New(scheduler.Config{Store: eng.Store, Broker: eng.Broker, Hot: hot, Registry: eng.Classes, Registerer: reg,
			CommitDelay: engine.CommitDelayFor(eng.Store, delay)})
		if err != nil {
			_ = eng.Close(context.WithoutCancel(ctx))
			return err
		}
	}
	srv, err := api.New(api.Config{Store: eng.Store, Hot: hot, Scheduler: sched, Broker: eng.Broker, Addr: o.addr,
		AllowedOrigins: o.origins, Gatherer: reg, Registerer: reg})
	if err != nil {
		_ = eng.Close(context.WithoutCancel(ctx))
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = srv.Stop(sctx)
		_ = eng.Close(sctx) // stops the roles, the worker first
	}()
	if err := eng.Start(ctx); err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	if o.ready != nil {
		auth, ok := eng.Store.(state.Auth)
		if !ok {
			return errors.New("the store keeps no tokens")
		}
		if err := o.ready(ctx, srv.URL(), auth); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}

func newServeCommand() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP API (optionally with the scheduler and worker roles)",
		Long: "Serves the API on --addr against the configured store and broker. Live events and rate limits\n" +
			"use Redis when --redis-url is set, in-process memory otherwise (one API process only).",
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.addr = firstNonEmpty(o.addr, firstNonEmpty(os.Getenv("IA_API_ADDR"), api.AddrDefault))
			o.dbURL = firstNonEmpty(o.dbURL, os.Getenv("IA_DATABASE_URL"))
			o.queueURL = firstNonEmpty(o.queueURL, os.Getenv("IA_QUEUE_URL"))
			o.redisURL = firstNonEmpty(o.redisURL, os.Getenv("IA_REDIS_URL"))
			o.prefix = firstNonEmpty(o.prefix, os.Getenv("IA_PREFIX"))
			out := cmd.ErrOrStderr()
			o.ready = func(_ context.Context, url string, _ state.Auth) error {
				fmt.Fprintf(out, "ia: API listening on %s\n", url)
				return nil
			}
			return runAPI(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "", "listen address (env IA_API_ADDR; default "+api.AddrDefault+")")
	f.StringVar(&o.dbURL, "database-url", "", "state store URL (postgres://... or sqlite:PATH; env IA_DATABASE_URL)")
	f.StringVar(&o.queueURL, "queue-url", "", "broker URL (nats://... or redis://...; env IA_QUEUE_URL)")
	f.StringVar(&o.redisURL, "redis-url", "", "Redis for live events and rate limits (env IA_REDIS_URL; default in-memory)")
	f.StringVar(&o.dataDir, "data-dir", "", "embedded data directory when no URLs are given")
	f.StringVar(&o.prefix, "prefix", "", "namespace of streams, queues, the Postgres schema and Redis keys, as the other processes use (env IA_PREFIX; default ia)")
	f.StringSliceVar(&o.origins, "allow-origin", nil, "allow CORS from this origin (repeatable; default CORS off)")
	f.BoolVar(&o.scheduler, "scheduler", false, "also run the scheduler role in this process")
	f.BoolVar(&o.worker, "worker", false, "also run a worker in this process")
	return cmd
}

func newDevCommand() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run scheduler, worker and API in one process on a persistent data dir",
		Long: "Starts everything in one process (embedded NATS and SQLite under --data-dir unless URLs are\n" +
			"given), creates a bootstrap admin token and prints the API URL and the token.",
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := os.MkdirAll(o.dataDir, 0o700); err != nil {
				return err
			}
			o.dbURL = firstNonEmpty(o.dbURL, os.Getenv("IA_DATABASE_URL"))
			o.queueURL = firstNonEmpty(o.queueURL, os.Getenv("IA_QUEUE_URL"))
			o.prefix = os.Getenv("IA_PREFIX")
			o.scheduler, o.worker = true, true
			out := cmd.OutOrStdout()
			o.ready = func(ctx context.Context, url string, auth state.Auth) error {
				tok, err := api.CreateToken(ctx, auth, fmt.Sprintf("dev-admin-%d", time.Now().Unix()), state.RoleAdmin, "ia dev")
				if err != nil {
					return err
				}
				printDev(out, url, tok.Secret)
				return nil
			}
			return runAPI(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", api.AddrDefault, "listen address")
	f.StringVar(&o.dataDir, "data-dir", ".ia-dev", "where the embedded store and broker keep their data")
	f.StringVar(&o.dbURL, "database-url", "", "state store URL (default embedded SQLite in --data-dir)")
	f.StringVar(&o.queueURL, "queue-url", "", "broker URL (default in-process NATS in --data-dir)")
	f.StringVar(&o.redisURL, "redis-url", "", "Redis for live events (default in-memory)")
	return cmd
}

func printDev(w io.Writer, url, token string) {
	fmt.Fprintf(w, "ia dev: API on %s\n", url)
	fmt.Fprintf(w, "admin token (shown once): %s\n\n", token)
	fmt.Fprintf(w, "  export IA_API_URL=%s IA_TOKEN=%s\n", url, token)
	fmt.Fprintln(w, "  ia pipelines import examples/pipelines && ia runs submit hello --input '{\"topic\":\"x\"}' --watch")
	fmt.Fprintln(w, strings.Repeat("-", 40))
}
