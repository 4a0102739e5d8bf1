//go:build unix

package crashtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/internal/testenv"
	"github.com/ia-modules/ia-go/pkg/dag"
	"github.com/ia-modules/ia-go/pkg/queue"
	"github.com/ia-modules/ia-go/pkg/queue/queueasynq"
	"github.com/ia-modules/ia-go/pkg/queue/queuenats"
	"github.com/ia-modules/ia-go/pkg/scheduler"
	"github.com/ia-modules/ia-go/pkg/state/statepg"
)

// Shape and bounds of one crash test variant.
const (
	numRuns       = 300
	numBatches    = 5
	batchEvery    = 3 * time.Second
	numSchedulers = 2
	numWorkers    = 3
	killMin       = 100 * time.Millisecond
	killMax       = 300 * time.Millisecond
	// chaosDeadline bounds the chaos phase; drainWait is how long the
	// processes keep running without chaos for runs still unfinished.
	// asynq needs longer: it hands a dead worker's task to another only
	// after the task's lease (30 s) plus a 30 s clock-skew margin, and its
	// recoverer looks once a minute (asynq v0.26 recoverer.go).
	chaosDeadline  = 2*time.Minute + 30*time.Second
	drainWait      = 60 * time.Second
	drainWaitAsynq = 150 * time.Second
	relayPoll      = 100 * time.Millisecond
	logTail        = 25
)

type variant struct {
	name string
	// asynq: the broker is asynq on a private redis-server, else JetStream
	// on a private nats-server.
	asynq bool
}

func TestCrash(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("crashtest: takes minutes; skipped under -short")
	}
	dbURL := testenv.DatabaseURL(t)
	hotURL := testenv.RedisURL(t)
	bins := buildBinaries(t, t.TempDir())
	for _, v := range []variant{{name: "jetstream"}, {name: "asynq", asynq: true}} {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			runCrash(t, bins, dbURL, hotURL, v)
		})
	}
}

// testBundle is one variant's world.
type testBundle struct {
	prefix     string
	dir        string
	store      *statepg.Store
	broker     queue.Broker
	sched      *scheduler.Scheduler
	server     *proc   // nats-server or redis-server
	engine     []*proc // schedulers, then workers
	versionID  string
	serverKill syscall.Signal
}

func runCrash(t *testing.T, bins binaries, dbURL, hotURL string, v variant) {
	ctx := t.Context()
	b := setup(t, bins, dbURL, hotURL, v)
	began := time.Now()

	// The chaos loop: every 100-300 ms SIGKILL one scheduler or worker; its
	// supervisor restarts it at once.
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	var kills [2]atomic.Int64 // schedulers, workers
	chaosCtx, stopChaos := context.WithCancel(ctx)
	chaosDone := make(chan struct{})
	go func() {
		defer close(chaosDone)
		for {
			select {
			case <-chaosCtx.Done():
				return
			case <-time.After(killMin + time.Duration(rng.Int64N(int64(killMax-killMin)))):
			}
			i := rng.IntN(len(b.engine))
			if b.engine[i].signal(syscall.SIGKILL) {
				kills[min(i/numSchedulers, 1)].Add(1)
			}
		}
	}()
	defer func() { stopChaos(); <-chaosDone }()

	// Submit in batches spread over the chaos window; restart the broker
	// server in the middle.
	runs := make([]string, 0, numRuns)
	inputs := map[string]int{}
	perBatch := numRuns / numBatches
	var serverRestart time.Time
	for batch := range numBatches {
		if batch > 0 {
			select {
			case <-ctx.Done():
				t.Fatal("crashtest: cancelled")
			case <-time.After(batchEvery):
			}
		}
		for i := batch * perBatch; i < (batch+1)*perBatch; i++ {
			run, _, err := b.sched.Submit(ctx, &scheduler.SubmitParams{
				PipelineVersionID: b.versionID, Input: map[string]any{"n": i},
				IdempotencyKey: fmt.Sprintf("%s-%d", b.prefix, i), CreatedBy: "crashtest",
			})
			require.NoError(t, err, "submitting run %d", i)
			runs = append(runs, run.ID)
			inputs[run.ID] = i
		}
		if batch == numBatches/2 {
			serverRestart = time.Now()
			require.True(t, b.server.signal(b.serverKill), "crashtest: the broker server was not running at its restart")
			t.Logf("crashtest %s: broker server restarted with %v after batch %d (%.1fs)", v.name, b.serverKill, batch+1, time.Since(began).Seconds())
		}
	}

	// Wait for every run to be terminal, first under chaos, then without.
	pending := waitTerminal(ctx, t, b, began.Add(chaosDeadline))
	stopChaos()
	<-chaosDone
	chaosTime := time.Since(began)
	if pending > 0 {
		wait := drainWait
		if v.asynq {
			wait = drainWaitAsynq
		}
		t.Logf("crashtest %s: %d runs unfinished after %.1fs of chaos; waiting up to %s without chaos", v.name, pending, chaosTime.Seconds(), wait)
		pending = waitTerminal(ctx, t, b, time.Now().Add(wait))
	}
	wall := time.Since(began)

	r := check(ctx, t, b, runs, inputs)
	var selfExits []string
	for _, p := range append([]*proc{b.server}, b.engine...) {
		starts, exits := p.stats()
		if len(exits) > 0 {
			selfExits = append(selfExits, fmt.Sprintf("%s: %d starts, %d exits on its own %q", p.name, starts, len(exits), exits))
		}
	}
	summary := fmt.Sprintf("crashtest %s: runs=%d completed=%d wrong=%d stuck=%d kills=%d (schedulers %d, workers %d) broker_restart_at=%.1fs "+
		"record_executions=%d extra_executions=%d (over %d run/step/iteration keys) chaos=%.1fs wall=%.1fs seed=%d",
		v.name, len(runs), r.completed, len(r.wrong), len(r.stuck), kills[0].Load()+kills[1].Load(), kills[0].Load(), kills[1].Load(),
		serverRestart.Sub(began).Seconds(), r.executions, r.extra, r.extraKeys, chaosTime.Seconds(), wall.Seconds(), seed)
	t.Log(summary)
	for _, s := range selfExits {
		t.Logf("crashtest %s: %s", v.name, s)
	}
	// A child may exit on its own while the broker is down (exit status 1),
	// but a Go panic (exit status 2) is a defect whatever the guarantees say.
	for _, p := range b.engine {
		if _, exits := p.stats(); slices.Contains(exits, "exit status 2") {
			t.Errorf("crashtest %s: %s panicked (exit status 2):\n%s", v.name, p.name, p.grep("panic:", 12))
		}
	}
	if len(r.stuck) > 0 || len(r.wrong) > 0 || pending > 0 {
		var msg strings.Builder
		fmt.Fprintf(&msg, "%s\n", summary)
		for _, s := range first(r.stuck, 20) {
			fmt.Fprintf(&msg, "stuck: %s\n", s)
		}
		for _, s := range first(r.wrong, 20) {
			fmt.Fprintf(&msg, "wrong: %s\n", s)
		}
		for _, q := range []string{queue.DefaultTaskQueue, queue.EventsQueue} {
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			st, err := b.broker.Stats(sctx, q)
			cancel()
			fmt.Fprintf(&msg, "queue %s: pending=%d in_flight=%d err=%v\n", q, st.Pending, st.InFlight, err)
		}
		for _, p := range append([]*proc{b.server}, b.engine...) {
			fmt.Fprintf(&msg, "--- tail of %s (%s)\n%s\n", p.name, p.logPath, p.tail(logTail))
		}
		t.Fatal(msg.String())
	}
}

func first(s []string, n int) []string { return s[:min(len(s), n)] }

// setup starts the broker server, opens the store, imports the pipeline and
// starts the supervised schedulers and workers. Cleanups stop everything
// and drop the schema.
func setup(t *testing.T, bins binaries, dbURL, hotURL string, v variant) *testBundle {
	t.Helper()
	ctx := t.Context()
	b := &testBundle{prefix: testenv.Name("crash"), dir: t.TempDir()}
	// CRASHTEST_LOG_DIR keeps the child logs after the test (they go to a
	// temporary directory otherwise).
	if keep := os.Getenv("CRASHTEST_LOG_DIR"); keep != "" {
		b.dir = filepath.Join(keep, b.prefix)
		require.NoError(t, os.MkdirAll(b.dir, 0o755))
		t.Logf("crashtest %s: logs in %s", v.name, b.dir)
	}
	env := os.Environ()

	// The private broker server, supervised like the engine processes.
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	var queueURL string
	if v.asynq {
		redisServer := "/usr/bin/redis-server"
		if _, err := os.Stat(redisServer); err != nil {
			if p, lerr := exec.LookPath("redis-server"); lerr == nil {
				redisServer = p
			} else if testenv.InCI() {
				t.Fatalf("crashtest: redis-server not found (CI=true: a missing server is a failure): %v", err)
			} else {
				t.Skipf("crashtest: redis-server not found (%v); install it to run the asynq variant", err)
			}
		}
		dataDir := filepath.Join(b.dir, "redis")
		require.NoError(t, os.MkdirAll(dataDir, 0o755))
		// appendonly + appendfsync everysec: every write reaches the kernel
		// before its reply, so a killed redis-server loses nothing.
		b.server = newProc("redis-server", redisServer, []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--dir", dataDir, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--protected-mode", "no"}, env, b.dir)
		b.serverKill = syscall.SIGKILL
		queueURL = "redis://" + addr + "/0"
	} else {
		b.server = newProc("nats-server", bins.natsServer, []string{"-a", "127.0.0.1", "-p", strconv.Itoa(port),
			"-js", "-sd", filepath.Join(b.dir, "nats")}, env, b.dir)
		// JetStream acknowledges a publish before its file store syncs, so
		// a SIGKILLed server may lose acknowledged tasks; the documented
		// guarantee covers a clean restart.
		b.serverKill = syscall.SIGTERM
		queueURL = "nats://" + addr
	}
	b.server.supervise()
	t.Cleanup(b.server.stop)
	waitCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	require.NoError(t, waitDial(waitCtx, addr), "crashtest: %s did not start:\n%s", b.server.name, b.server.tail(logTail))

	// The store: a schema of its own, with the execution log of the record step.
	var err error
	b.store, err = statepg.New(ctx, statepg.Config{URL: dbURL, Schema: b.prefix, MaxConns: 4})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := b.store.Pool().Exec(context.Background(), `DROP SCHEMA IF EXISTS `+b.prefix+` CASCADE`)
		_ = b.store.Close()
		if err != nil {
			t.Errorf("crashtest: dropping schema %s: %v", b.prefix, err)
		}
	})
	_, err = b.store.Pool().Exec(ctx, `CREATE TABLE `+b.prefix+`.crash_executions (
		id bigserial PRIMARY KEY, run_id text NOT NULL, step_id text NOT NULL, iteration int NOT NULL,
		attempt int NOT NULL, pid int NOT NULL, at timestamptz NOT NULL DEFAULT now())`)
	require.NoError(t, err)
	t.Cleanup(func() { cleanHotState(t, hotURL, b.prefix) })

	// The test's broker and an unstarted scheduler: Submit only writes the
	// run and its outbox; the running schedulers' relays publish it.
	if v.asynq {
		b.broker, err = queueasynq.New(ctx, queueasynq.Config{RedisURL: queueURL, Prefix: b.prefix})
	} else {
		b.broker, err = queuenats.New(waitCtx, queuenats.Config{URL: queueURL, Prefix: b.prefix})
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.broker.Close() })
	b.sched, err = scheduler.New(scheduler.Config{Store: b.store, Broker: b.broker})
	require.NoError(t, err)
	pv, _, err := b.sched.PipelineImport(ctx, "crash", []byte(pipeline))
	require.NoError(t, err)
	b.versionID = pv.ID

	childEnv := append(env, "IA_DATABASE_URL="+dbURL, "IA_QUEUE_URL="+queueURL, "IA_REDIS_URL="+hotURL,
		"IA_PREFIX="+b.prefix, "IA_HTTP_ADDR=127.0.0.1:0", "IA_LOG_LEVEL=info", "IA_QUEUES=default")
	for i := range numSchedulers {
		b.engine = append(b.engine, newProc(fmt.Sprintf("scheduler-%d", i), bins.scheduler,
			[]string{"-relay-poll", relayPoll.String(), "-shutdown-grace", "2s"}, childEnv, b.dir))
	}
	for i := range numWorkers {
		b.engine = append(b.engine, newProc(fmt.Sprintf("worker-%d", i), bins.worker,
			[]string{"-concurrency", "8", "-shutdown-grace", "2s"}, childEnv, b.dir))
	}
	for _, p := range b.engine {
		p.supervise()
		t.Cleanup(p.stop)
	}
	return b
}

// cleanHotState deletes the variant's keys from the shared Redis.
func cleanHotState(t *testing.T, url, prefix string) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Errorf("crashtest: %v", err)
		return
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// stateredis keys start with the hash tag "{<prefix>:}".
	iter := rdb.Scan(ctx, 0, "{"+prefix+":}*", 1000).Iterator()
	for iter.Next(ctx) {
		_ = rdb.Del(ctx, iter.Val()).Err()
	}
}

// waitTerminal polls until no run is unfinished or deadline passes, and
// returns the number still unfinished.
func waitTerminal(ctx context.Context, t *testing.T, b *testBundle, deadline time.Time) int {
	t.Helper()
	for {
		var pending int
		err := b.store.Pool().QueryRow(ctx, `SELECT count(*) FROM `+b.prefix+`.runs WHERE status NOT IN ('completed', 'failed', 'cancelled')`).Scan(&pending)
		require.NoError(t, err)
		if pending == 0 || time.Now().After(deadline) {
			return pending
		}
		select {
		case <-ctx.Done():
			t.Fatal("crashtest: cancelled while waiting for runs")
		case <-time.After(250 * time.Millisecond):
		}
	}
}

type result struct {
	completed  int
	stuck      []string // not terminal: id, status, steps
	wrong      []string // terminal but wrong: status, output, a step started twice, ...
	executions int
	extra      int // executions beyond one per (run, step, iteration)
	extraKeys  int
}

// check reads every run and the execution log and compares them with what
// the pipeline must produce.
func check(ctx context.Context, t *testing.T, b *testBundle, runs []string, inputs map[string]int) result {
	t.Helper()
	g, probs := dag.Load("crash", []byte(pipeline), nil)
	require.NotNil(t, g, "pipeline: %v", probs.Err())
	ids := g.StepIDs()

	// Executions per run, step and iteration from the record table.
	type key struct {
		step      string
		iteration int
	}
	execs := map[string]map[key]int{}
	rows, err := b.store.Pool().Query(ctx, `SELECT run_id, step_id, iteration, count(*) FROM `+b.prefix+`.crash_executions GROUP BY 1, 2, 3`)
	require.NoError(t, err)
	var r result
	for rows.Next() {
		var run string
		var k key
		var n int
		require.NoError(t, rows.Scan(&run, &k.step, &k.iteration, &n))
		if execs[run] == nil {
			execs[run] = map[key]int{}
		}
		execs[run][k] += n
		r.executions += n
		if n > 1 {
			r.extra += n - 1
			r.extraKeys++
		}
	}
	require.NoError(t, rows.Err())

	for _, id := range runs {
		run, err := b.store.RunGet(ctx, id)
		require.NoError(t, err, "run %s", id)
		n := inputs[id]
		var st dag.RunState
		require.NoError(t, json.Unmarshal(run.State, &st), "run %s state", id)
		var steps []string
		var problems []string
		for i, s := range st.Steps {
			steps = append(steps, fmt.Sprintf("%s=%s/i%d/a%d", ids[i], s.Status, s.Iteration, s.Attempt))
			if s.Iteration > 1 {
				problems = append(problems, fmt.Sprintf("step %s started %d times", ids[i], s.Iteration))
			}
		}
		desc := fmt.Sprintf("run %s (n=%d) status=%s error=%q steps[%s]", id, n, run.Status, run.Error, strings.Join(steps, " "))
		switch run.Status {
		case "completed", "failed", "cancelled":
		default:
			var outbox int
			_ = b.store.Pool().QueryRow(ctx, `SELECT count(*) FROM `+b.prefix+`.outbox WHERE run_id = $1`, id).Scan(&outbox)
			r.stuck = append(r.stuck, fmt.Sprintf("%s outbox=%d", desc, outbox))
			continue
		}
		if run.Status != "completed" {
			problems = append(problems, "not completed")
		} else if !jsonEqual(run.Output, expected(n)) {
			problems = append(problems, fmt.Sprintf("output %s, want %s", run.Output, expected(n)))
		}
		if rs, ok := g.Step(&st, "R"); !ok || rs.Attempt != 2 {
			problems = append(problems, fmt.Sprintf("R ended at attempt %d, want 2", rs.Attempt))
		}
		want := recordSteps(n)
		for _, sid := range []string{"start", "A", "B", "C_hi", "C_lo", "J", "finish"} {
			var got int
			for k, c := range execs[id] {
				if k.step == sid {
					got += c
					if k.iteration > 1 {
						problems = append(problems, fmt.Sprintf("step %s executed in iteration %d", sid, k.iteration))
					}
				}
			}
			switch {
			case slices.Contains(want, sid) && got == 0 && run.Status == "completed":
				problems = append(problems, "step "+sid+" never executed")
			case !slices.Contains(want, sid) && got > 0:
				problems = append(problems, fmt.Sprintf("untaken step %s executed %d times", sid, got))
			}
		}
		problems = append(problems, recordProblems(ctx, t, b, id)...)
		if len(problems) > 0 {
			r.wrong = append(r.wrong, fmt.Sprintf("%s: %s", desc, strings.Join(problems, "; ")))
			continue
		}
		r.completed++
	}
	return r
}

// recordProblems checks a run's attempt records: every succeeded attempt's
// record is complete (its worker, start and end, and for finish its input)
// even when the scheduler that started it, holding its start back to write
// it with the end, was killed in between.
func recordProblems(ctx context.Context, t *testing.T, b *testBundle, runID string) []string {
	as, err := b.store.StepAttemptList(ctx, runID)
	require.NoError(t, err)
	var problems []string
	for _, a := range as {
		if a.Status != "succeeded" {
			continue
		}
		if a.WorkerID == "" || a.StartedAt == nil || a.FinishedAt == nil {
			problems = append(problems, fmt.Sprintf("record of %s/%d/%d incomplete: worker %q, started %v, finished %v",
				a.StepID, a.Iteration, a.Attempt, a.WorkerID, a.StartedAt, a.FinishedAt))
		}
		if a.StepID == "finish" && !strings.Contains(string(a.Input), `"attempts"`) {
			problems = append(problems, fmt.Sprintf("record of finish/%d/%d has input %s", a.Iteration, a.Attempt, a.Input))
		}
	}
	return problems
}

func jsonEqual(got []byte, want string) bool {
	var a, b any
	if json.Unmarshal(got, &a) != nil || json.Unmarshal([]byte(want), &b) != nil {
		return false
	}
	aj, _ := json.Marshal(a)
	bj, _ := json.Marshal(b)
	return string(aj) == string(bj)
}
