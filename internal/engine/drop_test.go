package engine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/internal/engine"
	"github.com/ia-modules/ia-go/internal/testenv"
	"github.com/ia-modules/ia-go/pkg/scheduler"
	"github.com/ia-modules/ia-go/pkg/state"
)

// TestDrop: after an engine of a namespace has run, Drop leaves no schema,
// stream or hot-state key of it on the servers.
func TestDrop(t *testing.T) {
	t.Parallel()
	ns := engine.Config{DatabaseURL: testenv.DatabaseURL(t), QueueURL: testenv.NATSURL(t), RedisURL: testenv.RedisURL(t),
		Prefix: testenv.Name("droptest")}
	ctx := t.Context()
	cfg := ns
	cfg.Scheduler, cfg.Worker = true, true
	eng, err := engine.Open(ctx, cfg)
	require.NoError(t, err)
	require.NoError(t, eng.Start(ctx))
	require.NoError(t, eng.Hot.EventPublish(ctx, state.Event{RunID: "run-1", Type: "run_started", At: time.Now()}))
	require.NoError(t, eng.Close(ctx))

	conn, err := pgx.Connect(ctx, ns.DatabaseURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	schemaExists := func() (ok bool) {
		require.NoError(t, conn.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)`, ns.Prefix).Scan(&ok))
		return ok
	}
	nc, err := nats.Connect(ns.QueueURL)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	streamExists := func() bool {
		_, err := js.Stream(ctx, ns.Prefix+"_q")
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return false
		}
		require.NoError(t, err)
		return true
	}
	opts, err := redis.ParseURL(ns.RedisURL)
	require.NoError(t, err)
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	hotKeys := func() int {
		keys, err := rdb.Keys(ctx, "{"+ns.Prefix+":}*").Result()
		require.NoError(t, err)
		return len(keys)
	}
	require.True(t, schemaExists())
	require.True(t, streamExists())
	require.NotZero(t, hotKeys())

	require.NoError(t, engine.Drop(context.Background(), ns))
	require.False(t, schemaExists())
	require.False(t, streamExists())
	require.Zero(t, hotKeys())
}

// TestDropAsynq: on asynq, Drop leaves no key of the namespace's queues,
// not even the completed tasks and counters asynq's own queue deletion
// keeps.
func TestDropAsynq(t *testing.T) {
	t.Parallel()
	redisURL := testenv.RedisURL(t)
	ns := engine.Config{QueueURL: redisURL, Prefix: testenv.Name("dropasynq")}
	ctx := t.Context()
	eng, err := engine.Open(ctx, engine.Config{QueueURL: redisURL, DatabaseURL: "sqlite:" + t.TempDir() + "/ia.db", Prefix: ns.Prefix,
		Scheduler: true, Worker: true})
	require.NoError(t, err)
	require.NoError(t, eng.Start(ctx))
	pv, _, err := eng.Scheduler.PipelineImport(ctx, "one", []byte(`{"name":"one","steps":[{"id":"a","step_class":"echo"}],"flow":{"start_at":"a","transitions":[]}}`))
	require.NoError(t, err)
	run, _, err := eng.Scheduler.Submit(ctx, &scheduler.SubmitParams{PipelineVersionID: pv.ID, Input: map[string]any{}})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		r, err := eng.Store.RunGet(ctx, run.ID)
		return err == nil && r.Status == state.RunCompleted
	}, 30*time.Second, 10*time.Millisecond)
	require.NoError(t, eng.Close(ctx))

	opts, err := redis.ParseURL(redisURL)
	require.NoError(t, err)
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	keys := func() []string {
		keys, err := rdb.Keys(ctx, "asynq:{"+ns.Prefix+":*").Result()
		require.NoError(t, err)
		return keys
	}
	require.NotEmpty(t, keys())
	require.NoError(t, engine.Drop(context.Background(), ns))
	require.Empty(t, keys())
}
