package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/internal/engine"
	"github.com/ia-modules/ia-go/internal/testenv"
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

	ready := make(chan string, 1)
	actx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- runAPI(actx, serveOptions{addr: "127.0.0.1:0", dbURL: dbURL, queueURL: natsURL, redisURL: redisURL,
			prefix: prefix, ready: func(_ context.Context, url string, _ state.Auth) error {
				ready <- url
				return nil
			}})
	}()
	t.Cleanup(func() {
		stop()
		require.NoError(t, <-served)
	})
	var url string
	select {
	case url = <-ready:
	case err := <-served:
		t.Fatalf("ia serve: %v", err)
	}

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
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var res, errOut bytes.Buffer
	code := Main(wctx, []string{"runs", "submit", "hello", "--input", `{"topic":"x"}`, "--watch"}, &res, &errOut)
	require.Equal(t, 0, code, "the run did not complete: %s", errOut.String())
	require.Contains(t, res.String(), "quick note on x")
}
