package queuenats_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ia-modules/ia-go/internal/testenv"
	"github.com/ia-modules/ia-go/pkg/queue"
	"github.com/ia-modules/ia-go/pkg/queue/queuenats"
	"github.com/ia-modules/ia-go/pkg/queue/queuetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newBroker returns a broker on its own stream and subject prefix, deleted
// at cleanup.
func newBroker(t testing.TB, url string) *queuenats.Broker {
	t.Helper()
	b, err := queuenats.New(t.Context(), queuenats.Config{
		URL:           url,
		Prefix:        testenv.Name("t"),
		DeleteOnClose: true,
		Logger:        slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return b
}

// embedded starts an in-process server for the calling test.
func embedded(t testing.TB) *queuenats.EmbeddedServer {
	t.Helper()
	srv, err := queuenats.StartEmbedded(t.Context(), queuenats.EmbeddedConfig{StoreDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown)
	return srv
}

func TestConformance(t *testing.T) {
	t.Parallel()
	t.Run("External", func(t *testing.T) {
		t.Parallel()
		url := testenv.NATSURL(t)
		queuetest.Exercise(t, func(t *testing.T) queue.Broker { return newBroker(t, url) }, queuetest.WithoutPriority())
	})
	t.Run("Embedded", func(t *testing.T) {
		t.Parallel()
		srv := embedded(t)
		queuetest.Exercise(t, func(t *testing.T) queue.Broker { return newBroker(t, srv.ClientURL()) }, queuetest.WithoutPriority())
	})
}

func TestNew(t *testing.T) {
	t.Parallel()
	srv := embedded(t)
	tests := []struct {
		name    string
		cfg     queuenats.Config
		wantErr bool
	}{
		{"BadPrefix", queuenats.Config{URL: srv.ClientURL(), Prefix: "a.b"}, true},
		{"NegativeWindow", queuenats.Config{URL: srv.ClientURL(), Prefix: "ok", DuplicateWindow: -1}, true},
		{"Unreachable", queuenats.Config{URL: "nats://127.0.0.1:1"}, true},
		{"Defaults", queuenats.Config{URL: srv.ClientURL(), DeleteOnClose: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := queuenats.New(t.Context(), tt.cfg)
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
// message, one message at a time: the raw broker hop.
func BenchmarkHop(b *testing.B) {
	b.Run("External", func(b *testing.B) { benchHop(b, newBroker(b, testenv.NATSURL(b))) })
	b.Run("Embedded", func(b *testing.B) { benchHop(b, newBroker(b, embedded(b).ClientURL())) })
}

func benchHop(b *testing.B, br queue.Broker) {
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
