package bench_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/internal/bench"
	"github.com/ia-modules/ia-go/internal/testenv"
)

// TestRunEmbeddedTiny runs the whole bench at toy sizes so the harness is
// exercised by go test ./... (a few seconds).
func TestRunEmbeddedTiny(t *testing.T) {
	t.Parallel()
	var progress bytes.Buffer
	rep, err := bench.Run(t.Context(), bench.Config{
		Mode: bench.ModeEmbedded, Runs: 2, Concurrency: 2, Duration: 200 * time.Millisecond, WorkerConcurrency: 8, Progress: &progress,
		Workloads: []bench.Workload{bench.Chain(3), bench.FanOut(3)},
	})
	require.NoError(t, err, progress.String())
	require.Len(t, rep.Rows, 2)
	for _, row := range rep.Rows {
		require.Positive(t, row.Engine.HopP50, row.Workload)
		require.Positive(t, row.Engine.FirstP50, row.Workload)
		require.Positive(t, row.Engine.StepsPerSec, row.Workload)
		require.Positive(t, row.Raw.HopP50, row.Workload)
		require.Positive(t, row.Raw.StepsPerSec, row.Workload)
	}
	var out bytes.Buffer
	require.NoError(t, rep.Print(&out))
	require.Contains(t, out.String(), "chain-3")
	require.Contains(t, out.String(), "fan-1-3-1")
	require.Contains(t, out.String(), "engine/raw × floor")
	require.Contains(t, progress.String(), "round 2/5", "engine and raw take turns")
	require.NotEqual(t, rep.Rows[0].Raw.HopP50, rep.Rows[1].Raw.HopP50, "the fan-out's raw hop is a raw fan-out's")
}

// TestRawDurableChain: on a target with Postgres the raw broker also runs
// a durable chain, which commits a row per step; its schema goes with it.
func TestRawDurableChain(t *testing.T) {
	t.Parallel()
	target := distributed(t)
	r, err := bench.OpenRaw(t.Context(), target)
	require.NoError(t, err)
	require.True(t, r.Durable())
	hops, err := r.DurableSerial(t.Context(), 2)
	require.NoError(t, err)
	require.Len(t, hops, 2*(bench.RawChainSteps-1))
	rows, err := r.DurableRows(t.Context())
	require.NoError(t, err)
	require.EqualValues(t, 2*bench.RawChainSteps, rows, "a row per step")
	require.NoError(t, r.Close())

	embedded, err := bench.OpenRaw(t.Context(), bench.Target{Name: "embedded"})
	require.NoError(t, err)
	defer func() { require.NoError(t, embedded.Close()) }()
	require.False(t, embedded.Durable(), "no Postgres, no durable chain")
}

func TestChainOnceDistributedNATS(t *testing.T) {
	t.Parallel()
	h := openHarness(t, distributed(t))
	s, err := h.RunOnce(t.Context(), bench.Chain(10))
	require.NoError(t, err)
	require.Len(t, s.Hops, 9)
}

// distributed returns a Postgres + JetStream target, skipping (or failing
// under CI) when either is missing.
func distributed(tb testing.TB) bench.Target {
	tb.Helper()
	return bench.Target{Name: "distributed/nats", DatabaseURL: testenv.DatabaseURL(tb), QueueURL: testenv.NATSURL(tb)}
}

func openHarness(tb testing.TB, target bench.Target) *bench.Harness {
	tb.Helper()
	h, err := bench.OpenEngine(tb.Context(), target)
	require.NoError(tb, err)
	// tb.Context is already cancelled when cleanups run.
	tb.Cleanup(func() { require.NoError(tb, h.Close(context.Background())) })
	return h
}

// benchChain reports, per run of a 10-step chain made one at a time, the
// hop percentiles, then steps/s with 100 runs in flight.
func benchChain(b *testing.B, target bench.Target) {
	h := openHarness(b, target)
	w := bench.Chain(10)
	b.Run("serial", func(b *testing.B) {
		var hops []time.Duration
		for b.Loop() {
			s, err := h.RunOnce(b.Context(), w)
			require.NoError(b, err)
			hops = append(hops, s.Hops...)
		}
		reportHops(b, hops)
	})
	b.Run("saturated", func(b *testing.B) {
		l, err := h.Saturate(b.Context(), w, 100, time.Hour, int64(b.N), nil)
		require.NoError(b, err)
		b.ReportMetric(float64(l.Steps)/l.Elapsed.Seconds(), "steps/s")
	})
}

func reportHops(b *testing.B, hops []time.Duration) {
	b.Helper()
	if len(hops) == 0 {
		return
	}
	slices.Sort(hops)
	b.ReportMetric(float64(hops[len(hops)/2].Microseconds())/1000, "hop-p50-ms")
	b.ReportMetric(float64(hops[len(hops)*99/100].Microseconds())/1000, "hop-p99-ms")
}

func BenchmarkEmbeddedChain(b *testing.B) {
	benchChain(b, bench.Target{Name: "embedded"})
}

func BenchmarkDistributedChain(b *testing.B) {
	benchChain(b, distributed(b))
}

func BenchmarkRawJetStreamHop(b *testing.B) {
	r, err := bench.OpenRaw(b.Context(), bench.Target{Name: "embedded"})
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, r.Close()) })
	for b.Loop() {
		require.NoError(b, r.ChainOnce(b.Context()))
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N*bench.RawChainSteps), "ms/step")
}

// TestPrintProjectsToTheFloor: the report reads a chain's hop and steps/s
// at the reference machine's raw speed, from the engine/raw ratios.
func TestPrintProjectsToTheFloor(t *testing.T) {
	t.Parallel()
	rep := &bench.Report{Config: bench.Config{Runs: 1, Concurrency: 1, Rounds: 1}, Rows: []bench.Row{{
		Target: "distributed/nats", Workload: "chain-10",
		Engine:  bench.Figures{StepsPerSec: 2000, HopP50: 1500 * time.Microsecond},
		Raw:     bench.Figures{StepsPerSec: 10000, HopP50: 250 * time.Microsecond},
		Durable: bench.Figures{HopP50: 800 * time.Microsecond, Hops: 9},
	}, {
		Target: "distributed/nats", Workload: "fan-1-50-1",
		Engine: bench.Figures{StepsPerSec: 5000, HopP50: 3 * time.Millisecond},
		Raw:    bench.Figures{StepsPerSec: 10000, HopP50: 1500 * time.Microsecond},
	}}}
	var out bytes.Buffer
	require.NoError(t, rep.Print(&out))
	require.Contains(t, out.String(), "hop p50 1.50ms ≤ 1.50ms: met")
	require.Contains(t, out.String(), "(raw hop 0.30ms; here 0.25ms): engine/raw × floor = 1.80ms ≤ 1.50ms: MISSED")
	require.Contains(t, out.String(), "(raw 38000 steps/s; here 10000): engine/raw × floor = 7600 ≥ 4000: met")
	require.Contains(t, out.String(), "(durable raw hop 0.61ms; here 0.80ms): engine/durable raw × floor = 1.14ms ≤ 1.50ms: met")
	require.Regexp(t, `hop p50 / durable raw +1\.50ms +0\.80ms +1\.88`, out.String())
	// A fan-out's hop is set beside its raw fan-out, not judged by the
	// chain's goal, and gets no floor reading.
	require.Contains(t, out.String(), "fan-1-50-1 hop p50 3.00ms (raw fan-out 1.50ms, 2.00×; the hop target is the chain's); steps/s 5000 ≥ 4000: met")
	require.Equal(t, 1, strings.Count(out.String(), "raw hop 0.30ms"))
}
