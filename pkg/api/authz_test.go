package api_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/api"
	"github.com/ia-modules/ia-go/pkg/state"
)

// TestAuthorizationMatrix sends every route as every role, without a token
// and with a revoked token, and checks the exact status.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	revoked, err := api.CreateToken(ctx, b.auth, "revoked-user", state.RoleAdmin, "test")
	require.NoError(t, err)
	_, err = b.auth.TokenRevoke(ctx, revoked.ID)
	require.NoError(t, err)
	b.tokens["revoked"] = revoked

	helloDef, err := os.ReadFile("testdata/hello.json")
	require.NoError(t, err)
	ownRun := b.submit(t, state.RoleProducer, "hello", map[string]any{"topic": "x"})
	pv, err := b.store.PipelineVersionLatest(ctx, "hello")
	require.NoError(t, err)

	type request struct{ method, path, body string }
	waitingRun := func(t *testing.T) request {
		run := b.submit(t, state.RoleProducer, "review", map[string]any{"topic": "x"})
		b.waitTask(t, run.ID, nil)
		return request{"POST", "/v1/runs/" + run.ID + "/cancel", `{"reason":"matrix"}`}
	}
	failedRun := func(t *testing.T, suffix string) request {
		run := b.submit(t, state.RoleProducer, "fails", nil)
		b.waitRun(t, run.ID, state.RunFailed)
		return request{"POST", "/v1/runs/" + run.ID + suffix, ""}
	}
	p, rv, op, ad := state.RoleProducer, state.RoleReviewer, state.RoleOperator, state.RoleAdmin
	anyone := []string{"", "revoked", p, rv, op, ad}
	tests := []struct {
		op      string
		req     func(t *testing.T) request
		allowed []string // roles that get ok; "" and "revoked" listed only for public routes
		ok      int
	}{
		{"health.live", func(*testing.T) request { return request{"GET", "/healthz", ""} }, anyone, 200},
		{"health.ready", func(*testing.T) request { return request{"GET", "/readyz", ""} }, anyone, 200},
		{"metrics", func(*testing.T) request { return request{"GET", "/metrics", ""} }, anyone, 200},
		{"openapi", func(*testing.T) request { return request{"GET", "/v1/openapi.json", ""} }, anyone, 200},
		{"pipelines.list", func(*testing.T) request { return request{"GET", "/v1/pipelines", ""} }, []string{p, rv, op, ad}, 200},
		{"pipelines.import", func(*testing.T) request {
			return request{"POST", "/v1/pipelines/import", fmt.Sprintf(`{"pipelines":[{"slug":"hello","definition":%s}]}`, helloDef)}
		}, []string{op, ad}, 200},
		{"pipelines.validate", func(*testing.T) request {
			return request{"POST", "/v1/pipelines/validate", fmt.Sprintf(`{"definition":%s}`, helloDef)}
		}, []string{op, ad}, 200},
		{"pipelines.get", func(*testing.T) request { return request{"GET", "/v1/pipelines/hello", ""} }, []string{p, rv, op, ad}, 200},
		{"pipelines.put", func(*testing.T) request {
			return request{"PUT", "/v1/pipelines/hello", fmt.Sprintf(`{"definition":%s}`, helloDef)}
		}, []string{op, ad}, 200},
		{"pipelines.version", func(*testing.T) request { return request{"GET", "/v1/pipeline-versions/" + pv.ID, ""} }, []string{p, rv, op, ad}, 200},
		{"runs.submit", func(*testing.T) request {
			return request{"POST", "/v1/runs", `{"pipeline":"hello","input":{"topic":"m"}}`}
		}, []string{p, ad}, 201},
		{"runs.list", func(*testing.T) request { return request{"GET", "/v1/runs", ""} }, []string{p, op, ad}, 200},
		{"runs.get", func(*testing.T) request { return request{"GET", "/v1/runs/" + ownRun.ID, ""} }, []string{p, op, ad}, 200},
		{"runs.cancel", waitingRun, []string{op, ad}, 202},
		{"runs.resume", func(t *testing.T) request { return failedRun(t, "/resume") }, []string{op, ad}, 202},
		{"runs.retry_step", func(t *testing.T) request { return failedRun(t, "/steps/boom/retry") }, []string{op, ad}, 202},
		{"runs.events", func(*testing.T) request { return request{"GET", "/v1/runs/" + ownRun.ID + "/events", ""} }, []string{p, op, ad}, 200},
		{"events", func(*testing.T) request { return request{"GET", "/v1/events", ""} }, []string{op, ad}, 200},
		{"human_tasks.list", func(*testing.T) request { return request{"GET", "/v1/human-tasks", ""} }, []string{rv, op, ad}, 200},
		{"human_tasks.get", func(t *testing.T) request {
			run := b.submit(t, p, "review", map[string]any{"topic": "x"})
			return request{"GET", "/v1/human-tasks/" + b.waitTask(t, run.ID, nil).ID, ""}
		}, []string{rv, op, ad}, 200},
		{"human_tasks.decide", func(t *testing.T) request {
			run := b.submit(t, p, "review", map[string]any{"topic": "x"})
			return request{"POST", "/v1/human-tasks/" + b.waitTask(t, run.ID, nil).ID + "/decision", `{"decision":{"decision":"approve"}}`}
		}, []string{rv, ad}, 200},
		{"tokens.create", func(t *testing.T) request {
			return request{"POST", "/v1/tokens", fmt.Sprintf(`{"name":"made-%d","role":"producer"}`, time.Now().UnixNano())}
		}, []string{ad}, 201},
		{"tokens.list", func(*testing.T) request { return request{"GET", "/v1/tokens", ""} }, []string{ad}, 200},
		{"tokens.revoke", func(t *testing.T) request {
			tok, err := api.CreateToken(ctx, b.auth, fmt.Sprintf("victim-%d", time.Now().UnixNano()), p, "test")
			require.NoError(t, err)
			return request{"DELETE", "/v1/tokens/" + tok.ID, ""}
		}, []string{ad}, 200},
		{"audit.list", func(*testing.T) request { return request{"GET", "/v1/audit", ""} }, []string{ad}, 200},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.op] = true
		for _, who := range anyone {
			name := who
			if name == "" {
				name = "none"
			}
			t.Run(tt.op+"/"+name, func(t *testing.T) {
				t.Parallel()
				want := http.StatusForbidden
				switch {
				case contains(tt.allowed, who):
					want = tt.ok
				case who == "" || who == "revoked":
					want = http.StatusUnauthorized
				}
				rq := tt.req(t)
				got, body := b.status(t, who, rq.method, rq.path, rq.body)
				require.Equal(t, want, got, "%s %s as %s: %s", rq.method, rq.path, name, body)
				if want >= 400 {
					require.Equal(t, map[int]string{401: api.CodeUnauthenticated, 403: api.CodeForbidden}[want], decodeErr(t, []byte(body)).Code)
				}
			})
		}
	}
	for _, op := range api.Operations() {
		require.True(t, covered[op], "route %s is missing from the matrix", op)
	}

	t.Run("producer/other's run", func(t *testing.T) {
		t.Parallel()
		for _, path := range []string{"/v1/runs/" + ownRun.ID, "/v1/runs/" + ownRun.ID + "/events"} {
			got, body := b.status(t, "other", "GET", path, "")
			require.Equal(t, http.StatusNotFound, got, body)
		}
	})
}

func contains(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

// status sends a request and returns its status and (for non-streams) its
// body; an event stream is closed as soon as its headers arrive.
func (b *testBundle) status(t testing.TB, who, method, path, body string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.url+path, nil)
	require.NoError(t, err)
	if rd != nil {
		req, err = http.NewRequestWithContext(ctx, method, b.url+path, rd)
		require.NoError(t, err)
	}
	if tok := b.tokens[who]; tok != nil {
		req.Header.Set("Authorization", "Bearer "+tok.Secret)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp.StatusCode, ""
	}
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, sb.String()
}
