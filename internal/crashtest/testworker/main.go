// Command testworker is the worker binary of the crash test: the standard
// worker process plus a "record" step class that writes one row per
// execution into the crash test's table, so the test can count real
// executions, including those whose completion a SIGKILL lost.
//
// The record step INSERTs (run_id, step_id, iteration, attempt, pid) into
// <IA_PREFIX>.crash_executions, then outputs its declared inputs plus
// "step": <step id>. The table is created by the test before any worker
// starts.
package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ia-modules/ia-go/pkg/service"
	"github.com/ia-modules/ia-go/pkg/steps"
)

// Table is the execution log the crash test reads.
const Table = "crash_executions"

func main() {
	os.Exit(run())
}

func run() int {
	ctx := context.Background()
	dbURL, schema := os.Getenv("IA_DATABASE_URL"), os.Getenv("IA_PREFIX")
	if dbURL == "" || schema == "" {
		fmt.Fprintln(os.Stderr, "testworker: IA_DATABASE_URL and IA_PREFIX are required")
		return 64
	}
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testworker:", err)
		return 64
	}
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testworker:", err)
		return 1
	}
	defer pool.Close()
	reg := steps.Builtins()
	reg.Register("record", record(pool, schema+"."+Table))
	return service.Main(ctx, service.Role{Name: "worker", Worker: true}, os.Args[1:], reg, os.Stderr)
}

// record logs the execution, then echoes the declared inputs.
func record(pool *pgxpool.Pool, table string) steps.Handler {
	pid := os.Getpid()
	return steps.HandlerFunc(func(ctx context.Context, in *steps.Input) (*steps.Output, error) {
		if in == nil {
			return nil, steps.NonRetryable(errors.New("record: no input"))
		}
		if _, err := pool.Exec(ctx, `INSERT INTO `+table+` (run_id, step_id, iteration, attempt, pid) VALUES ($1, $2, $3, $4, $5)`,
			in.RunID, in.StepID, in.Iteration, in.Attempt, pid); err != nil {
			return nil, fmt.Errorf("record: %w", err)
		}
		out := maps.Clone(in.Inputs)
		if out == nil {
			out = map[string]any{}
		}
		out["step"] = in.StepID
		return &steps.Output{Data: out}, nil
	})
}
