package stateredis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ia-modules/ia-go/internal/testenv"
	"github.com/ia-modules/ia-go/pkg/state"
	"github.com/ia-modules/ia-go/pkg/state/stateredis"
	"github.com/ia-modules/ia-go/pkg/state/statetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testHot returns a Hot under its own key prefix; its keys are deleted at
// cleanup.
func testHot(t *testing.T) *stateredis.Hot {
	t.Helper()
	url := testenv.RedisURL(t)
	prefix := "ia:test:" + testenv.Name("hot") + ":"
	h, err := stateredis.New(context.Background(), stateredis.Config{URL: url, Prefix: prefix})
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, h.Close())
		opts, err := redis.ParseURL(url)
		require.NoError(t, err)
		rdb := redis.NewClient(opts)
		defer rdb.Close()
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, "{"+prefix+"}*", 100).Iterator()
		for iter.Next(ctx) {
			require.NoError(t, rdb.Del(ctx, iter.Val()).Err())
		}
		require.NoError(t, iter.Err())
	})
	return h
}

func TestHot(t *testing.T) {
	t.Parallel()
	statetest.ExerciseHot(t, func(t *testing.T) state.Hot { return testHot(t) })
}

func TestNewConfig(t *testing.T) {
	t.Parallel()
	_, err := stateredis.New(t.Context(), stateredis.Config{})
	require.Error(t, err)
}

// TestEventPublishMany: a batch lands in order in the global and the
// per-run streams, as one EventPublish per event would put it, also after
// the server's script cache was flushed.
func TestEventPublishMany(t *testing.T) {
	t.Parallel()
	h := testHot(t)
	ctx := t.Context()
	batch := func(n int) []state.Event {
		evs := make([]state.Event, 0, 3)
		for i, run := range []string{"a", "b", "a"} {
			evs = append(evs, state.Event{RunID: run, StepID: "s", Type: fmt.Sprintf("e%d.%d", n, i), Data: json.RawMessage(`{"n":1}`)})
		}
		return evs
	}
	require.NoError(t, h.EventPublishMany(ctx, batch(1)))

	opts, err := redis.ParseURL(testenv.RedisURL(t))
	require.NoError(t, err)
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	require.NoError(t, rdb.ScriptFlush(ctx).Err())
	require.NoError(t, h.EventPublishMany(ctx, batch(2)))
	require.NoError(t, h.EventPublishMany(ctx, nil))

	types := func(runID string) []string {
		evs, err := h.EventsSince(ctx, runID, 0, 100)
		require.NoError(t, err)
		var out []string
		for _, ev := range evs {
			require.JSONEq(t, `{"n":1}`, string(ev.Data))
			require.False(t, ev.At.IsZero())
			out = append(out, ev.Type)
		}
		return out
	}
	require.Equal(t, []string{"e1.0", "e1.2", "e2.0", "e2.2"}, types("a"))
	require.Equal(t, []string{"e1.1", "e2.1"}, types("b"))
	require.Equal(t, []string{"e1.0", "e1.1", "e1.2", "e2.0", "e2.1", "e2.2"}, types(""))

	// An event that cannot be encoded fails the batch before anything is sent.
	err = h.EventPublishMany(ctx, []state.Event{{RunID: "a", Type: "bad", Data: json.RawMessage(`{`)}})
	require.Error(t, err)
	require.Len(t, types("a"), 4)
}
