package stateredis_test

import (
	"context"
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
