package service_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/queue/queuenats"
	"github.com/ia-modules/ia-go/pkg/service"
)

// logBuffer collects a process's log lines from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestMainWaitsForTheBroker: a worker started before its broker waits for
// it, saying so, and runs once it is up, instead of exiting.
func TestMainWaitsForTheBroker(t *testing.T) {
	t.Parallel()
	natsPort, httpPort := freePort(t), freePort(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var logs logBuffer
	done := make(chan int, 1)
	go func() {
		done <- service.Main(ctx, service.Role{Name: "worker", Worker: true}, []string{
			"-database-url", "sqlite:" + filepath.Join(t.TempDir(), "ia.db"),
			"-queue-url", fmt.Sprintf("nats://127.0.0.1:%d", natsPort),
			"-http-addr", fmt.Sprintf("127.0.0.1:%d", httpPort),
		}, nil, &logs)
	}()
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "waiting for the backends") },
		10*time.Second, 10*time.Millisecond, "no word while the broker is down:\n%s", logs.String())

	srv, err := queuenats.StartEmbedded(t.Context(), queuenats.EmbeddedConfig{StoreDir: t.TempDir(), Port: natsPort})
	require.NoError(t, err)
	defer srv.Shutdown()
	healthy := func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", httpPort))
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	require.Eventually(t, healthy, 20*time.Second, 20*time.Millisecond, "the worker did not come up:\n%s", logs.String())
	cancel()
	select {
	case code := <-done:
		require.Zero(t, code, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatal("the worker did not stop")
	}
}

// TestMainConfigErrorFailsAtOnce: a URL no backend takes is not waited on.
func TestMainConfigErrorFailsAtOnce(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	code := service.Main(t.Context(), service.Role{Name: "scheduler", Scheduler: true}, []string{
		"-database-url", "sqlite:" + filepath.Join(t.TempDir(), "ia.db"), "-queue-url", "amqp://127.0.0.1:5672",
		"-http-addr", "127.0.0.1:0",
	}, nil, &logs)
	require.Equal(t, 1, code)
	require.Contains(t, logs.String(), "unsupported queue URL")
	require.NotContains(t, logs.String(), "waiting for the backends")
}
