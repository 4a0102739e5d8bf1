package queueasynq_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ia-modules/ia-go/internal/testenv"
	"github.com/ia-modules/ia-go/pkg/queue"
	"github.com/ia-modules/ia-go/pkg/queue/queueasynq"
	"github.com/ia-modules/ia-go/pkg/queue/queuetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newBroker returns a broker whose queues live under their own prefix and
// are deleted at cleanup.
func newBroker(t testing.TB) *queueasynq.Broker {
	t.Helper()
	b, err := queueasynq.New(t.Context(), queueasynq.Config{
		RedisURL:      testenv.RedisURL(t),
		Prefix:        testenv.Name("t"),
		DeleteOnClose: true,
		Logger:        slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return b
}

func TestConformance(t *testing.T) {
	t.Parallel()
	queuetest.Exercise(t, func(t *testing.T) queue.Broker { return newBroker(t) })
}

func TestNew(t *testing.T) {
	t.Parallel()
	url := testenv.RedisURL(t)
	tests := []struct {
		name    string
		cfg     queueasynq.Config
		wantErr bool
	}{
		{"BadPrefix", queueasynq.Config{RedisURL: url, Prefix: "a:b"}, true},
		{"NegativeWindow", queueasynq.Config{RedisURL: url, DuplicateWindow: -1}, true},
		{"BadURL", queueasynq.Config{RedisURL: "http://x"}, true},
		{"Unreachable", queueasynq.Config{RedisURL: "redis://127.0.0.1:1/0"}, true},
		{"Defaults", queueasynq.Config{RedisURL: url}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := queueasynq.New(t.Context(), tt.cfg)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.NoError(t, b.Close())
		})
	}
}

// BenchmarkHop measures one publish and the wait until the handler sees the
// message, one message at a time: the raw broker hop, dominated by
// TaskCheckInterval polling.
func BenchmarkHop(b *testing.B) {
	br := newBroker(b)
	q := testenv.Name("bench")
	seen := make(chan struct{}, 1)
	sub, err := br.Subscribe(b.Context(), q, queue.SubscribeConfig{}, queue.HandlerFunc(func(ctx context.Context, d queue.Delivery) {
		seen <- struct{}{}
		_ = d.Ack(ctx)
	}))
	require.NoError(b, err)
	defer func() { require.NoError(b, sub.Stop(context.Background())) }()
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	b.ResetTimer()
	for i := range b.N {
		if err := br.Publish(b.Context(), queue.Message{ID: ids[i], Queue: q}); err != nil {
			b.Fatal(err)
		}
		<-seen
	}
}

// testWriter sends slog output to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
