package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/internal/engine"
	"github.com/ia-modules/ia-go/internal/testenv"
	"github.com/ia-modules/ia-go/pkg/api"
	"github.com/ia-modules/ia-go/pkg/state"
)

// TestServeSharesPrefix runs the deployment of the README's "Running it as
// a service" with IA_PREFIX set: the scheduler and worker roles in one
// engine, the API alone (as cmd/api) and the CLI. The API and `ia tokens`
// must use the same namespace (schema, streams, Redis keys) as the roles,
// or a submitted run is never picked up.
func TestServeSharesPrefix(t *testing.T) {
	dbURL, natsURL, redisURL := testenv.DatabaseURL(t), testenv.NATSURL(t), testenv.RedisURL(t)
	prefix := testenv.Name("clitest")
	t.Setenv("IA_PREFIX", prefix) // read by `ia tokens` and `ia serve`
	ctx := t.Context()
	ns := engine.Config{DatabaseURL: dbURL, QueueURL: natsURL, RedisURL: redisURL, Prefix: prefix}
	t.Cleanup(func() { require.NoError(t, engine.Drop(context.Background(), ns)) })

	cfg := ns
	cfg.Scheduler, cfg.Worker = true, true
	roles, err := engine.Open(ctx, cfg)
	require.NoError(t, err)
	require.NoError(t, roles.Start(ctx))
	t.Cleanup(func() { require.NoError(t, roles.Close(context.Background())) })

	url, _ := serveForTest(t, serveOptions{addr: "127.0.0.1:0", dbURL: dbURL, queueURL: natsURL, redisURL: redisURL, prefix: prefix})

	cli := func(args ...string) string {
		var out, errOut bytes.Buffer
		code := Main(ctx, args, &out, &errOut)
		require.Equal(t, 0, code, "ia %s: %s", strings.Join(args, " "), errOut.String())
		return out.String()
	}
	out := cli("tokens", "create", "--role", "admin", "--name", "ops", "--database-url", dbURL)
	secret := ""
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "ia_") {
			secret = f
		}
	}
	require.NotEmpty(t, secret, "no token in %q", out)
	t.Setenv("IA_API_URL", url)
	t.Setenv("IA_TOKEN", secret)
	cli("pipelines", "import", "../../examples/pipelines/hello.json")
	// The API alone does not know the classes of the deployment's workers
	// (a custom worker binary registers its own): it accepts them.
	cli("pipelines", "import", writeShoutPipeline(t))
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var res, errOut bytes.Buffer
	code := Main(wctx, []string{"runs", "submit", "hello", "--input", `{"topic":"x"}`, "--watch"}, &res, &errOut)
	require.Equal(t, 0, code, "the run did not complete: %s", errOut.String())
	require.Contains(t, res.String(), "quick note on x")
}

// writeShoutPipeline writes a pipeline whose step class only the custom
// worker of examples/custom-worker registers, and returns its path.
func writeShoutPipeline(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "shout.json")
	def := `{"name":"shout","steps":[{"id":"a","step_class":"shout"}],"flow":{"start_at":"a","transitions":[]}}`
	require.NoError(t, os.WriteFile(path, []byte(def), 0o600))
	return path
}

// TestDevCompletesInProcess runs `ia dev`'s process (API, scheduler and
// worker over the embedded broker and store): its worker hands every
// completion to the scheduler beside it, never over the events queue, and
// a pipeline naming a class no worker of this broker can run is refused
// at import, naming the step.
func TestDevCompletesInProcess(t *testing.T) {
	ctx := t.Context()
	url, token := serveForTest(t, serveOptions{addr: "127.0.0.1:0", dataDir: t.TempDir(), scheduler: true, worker: true})
	t.Setenv("IA_API_URL", url)
	t.Setenv("IA_TOKEN", token)
	var out, errOut bytes.Buffer
	require.Equal(t, 0, Main(ctx, []string{"pipelines", "import", "../../examples/pipelines/hello.json"}, &out, &errOut), errOut.String())
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out.Reset()
	require.Equal(t, 0, Main(wctx, []string{"runs", "submit", "hello", "--input", `{"topic":"x"}`, "--watch"}, &out, &errOut),
		"the run did not complete: %s", errOut.String())
	require.Contains(t, out.String(), "quick note on x")

	resp, err := http.Get(url + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.NoError(t, err)
	count := func(path string) int {
		m := regexp.MustCompile(`(?m)^ia_worker_completions_total\{path="` + path + `"\} (\d+)$`).FindSubmatch(body)
		if m == nil {
			return 0
		}
		n, err := strconv.Atoi(string(m[1]))
		require.NoError(t, err)
		return n
	}
	require.Positive(t, count("local"), "no completion was handed over in process:\n%s", body)
	require.Zero(t, count("broker"), "completions went over the events queue")

	errOut.Reset()
	require.NotEqual(t, 0, Main(ctx, []string{"pipelines", "import", writeShoutPipeline(t)}, &out, &errOut))
	require.Contains(t, errOut.String(), `unknown step class "shout"`)
	require.Contains(t, errOut.String(), "[step a]")
}

// serveForTest runs runAPI with o until the test ends and returns the API's
// URL and an admin token made in its store.
func serveForTest(t *testing.T, o serveOptions) (url, token string) {
	t.Helper()
	type served struct{ url, token string }
	ready := make(chan served, 1)
	o.ready = func(ctx context.Context, url string, auth state.Auth) error {
		tok, err := api.CreateToken(ctx, auth, "test-admin", state.RoleAdmin, "test")
		if err != nil {
			return err
		}
		ready <- served{url, tok.Secret}
		return nil
	}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- runAPI(ctx, o) }()
	t.Cleanup(func() {
		stop()
		require.NoError(t, <-done)
	})
	select {
	case srv := <-ready:
		return srv.url, srv.token
	case err := <-done:
		t.Fatalf("ia serve: %v", err)
		return "", ""
	}
}
