package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ia-modules/ia-go/internal/engine"
	"github.com/ia-modules/ia-go/internal/testenv"
	"github.com/ia-modules/ia-go/pkg/api"
	"github.com/ia-modules/ia-go/pkg/client"
	"github.com/ia-modules/ia-go/pkg/scheduler"
	"github.com/ia-modules/ia-go/pkg/state"
	"github.com/ia-modules/ia-go/pkg/state/statemem"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"))
}

const waitTimeout = 30 * time.Second

// testBundle is one isolated deployment: its own Postgres schema and NATS
// prefix, an in-memory hot state, a scheduler, a worker and the API.
type testBundle struct {
	srv    *api.Server
	url    string
	store  state.Store
	auth   state.Auth
	hot    state.Hot
	sched  *scheduler.Scheduler
	tokens map[string]*api.Token // by role, plus "other" (a second producer)
}

type setupOpts struct {
	rateLimit float64
	rateBurst int
	maxBody   int64
}

func setup(t testing.TB, opts ...setupOpts) *testBundle {
	t.Helper()
	o := setupOpts{rateLimit: -1}
	if len(opts) > 0 {
		o = opts[0]
	}
	dbURL := testenv.DatabaseURL(t)
	natsURL := testenv.NATSURL(t)
	prefix := testenv.Name("apitest")
	log := slog.New(slog.NewTextHandler(tLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx := context.Background()
	eng, err := engine.Open(ctx, engine.Config{DatabaseURL: dbURL, QueueURL: natsURL, Prefix: prefix, Worker: true,
		WorkerConcurrency: 16, Logger: log})
	require.NoError(t, err)
	hot := statemem.New(statemem.Config{})
	sched, err := scheduler.New(scheduler.Config{Store: eng.Store, Broker: eng.Broker, Hot: hot, Registry: eng.Registry,
		Logger: log, RelayPoll: 100 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, sched.Start(ctx))
	require.NoError(t, eng.Start(ctx))
	srv, err := api.New(api.Config{Store: eng.Store, Hot: hot, Scheduler: sched, Broker: eng.Broker, Logger: log,
		RateLimit: o.rateLimit, RateBurst: o.rateBurst, MaxBodyBytes: o.maxBody, Heartbeat: time.Second})
	require.NoError(t, err)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		stop, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		require.NoError(t, srv.Stop(stop))
		ts.Close()
		start := time.Now()
		require.NoError(t, sched.Stop(stop))
		t.Logf("scheduler stopped in %s", time.Since(start))
		stop2, cancel2 := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel2()
		start = time.Now()
		require.NoError(t, eng.Close(stop2))
		t.Logf("engine closed in %s", time.Since(start))
		require.NoError(t, hot.Close())
		require.NoError(t, engine.Drop(stop, engine.Config{DatabaseURL: dbURL, QueueURL: natsURL, Prefix: prefix}))
	})
	b := &testBundle{srv: srv, url: ts.URL, store: eng.Store, auth: eng.Store.(state.Auth), hot: hot, sched: sched, tokens: map[string]*api.Token{}}
	for _, role := range state.Roles {
		tok, err := api.CreateToken(ctx, b.auth, role+"-user", role, "test")
		require.NoError(t, err)
		b.tokens[role] = tok
	}
	other, err := api.CreateToken(ctx, b.auth, "other-producer", state.RoleProducer, "test")
	require.NoError(t, err)
	b.tokens["other"] = other
	for _, f := range []string{"review", "timeout_fail", "timeout_default", "timeout_escalate", "quorum", "hello", "fails"} {
		def, err := os.ReadFile(filepath.Join("testdata", f+".json"))
		require.NoError(t, err)
		_, _, err = sched.PipelineImport(ctx, f, def)
		require.NoError(t, err)
	}
	return b
}

func (b *testBundle) client(t testing.TB, who string) *client.Client {
	t.Helper()
	secret := ""
	if tok := b.tokens[who]; tok != nil {
		secret = tok.Secret
	}
	c, err := client.New(client.Config{URL: b.url, Token: secret})
	require.NoError(t, err)
	return c
}

// do sends a raw request and returns the status and body.
func (b *testBundle) do(t testing.TB, who, method, path string, body string, hdr ...string) (int, []byte, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, b.url+path, rd)
	require.NoError(t, err)
	if tok := b.tokens[who]; tok != nil {
		req.Header.Set("Authorization", "Bearer "+tok.Secret)
	} else if who != "" {
		req.Header.Set("Authorization", "Bearer "+who)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, raw, resp.Header
}

// waitRun polls the store until the run reaches one of the statuses (no
// signal crosses the process boundary of the engine, so polling it is).
func (b *testBundle) waitRun(t testing.TB, id string, statuses ...string) *state.Run {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		run, err := b.store.RunGet(context.Background(), id)
		require.NoError(t, err)
		for _, s := range statuses {
			if run.Status == s {
				return run
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s is %s after %s, want %v", id, run.Status, waitTimeout, statuses)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitTask returns the run's human task once it exists and matches ok.
func (b *testBundle) waitTask(t testing.TB, runID string, ok func(*state.HumanTask) bool) *state.HumanTask {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		tasks, err := b.store.HumanTaskList(context.Background(), &state.HumanTaskListParams{RunID: runID})
		require.NoError(t, err)
		for i := range tasks {
			if ok == nil || ok(&tasks[i]) {
				return &tasks[i]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s: no matching human task after %s (%d tasks)", runID, waitTimeout, len(tasks))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (b *testBundle) submit(t testing.TB, who, pipeline string, input map[string]any) *api.Run {
	t.Helper()
	raw, _ := json.Marshal(input)
	run, created, err := b.client(t, who).SubmitRun(context.Background(), &api.SubmitRequest{Pipeline: pipeline, Input: raw})
	require.NoError(t, err)
	require.True(t, created)
	return run
}

func (b *testBundle) runCount(t testing.TB) int {
	t.Helper()
	runs, _, err := b.store.RunList(context.Background(), &state.RunListParams{Limit: 10000})
	require.NoError(t, err)
	return len(runs)
}

func decodeErr(t testing.TB, raw []byte) api.ErrorDetail {
	t.Helper()
	var body api.ErrorBody
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&body), "error body: %s", raw)
	require.NotEmpty(t, body.Error.Code, "error body: %s", raw)
	require.NotEmpty(t, body.Error.Message, "error body: %s", raw)
	return body.Error
}

type tLogWriter struct{ t testing.TB }

func (w tLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
