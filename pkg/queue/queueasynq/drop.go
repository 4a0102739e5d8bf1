package queueasynq

import (
	"context"
	"fmt"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Drop deletes, on the Redis at url, the asynq queues of the logical
// queues qs under prefix (every priority) with everything under their keys,
// as a broker with Config.DeleteOnClose does on Close. For throw-away
// namespaces (tests, benchmarks); a missing queue is not an error.
func Drop(ctx context.Context, url, prefix string, qs ...string) error {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return fmt.Errorf("queueasynq: drop: %w", err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	names := map[string]struct{}{}
	for _, q := range qs {
		for _, name := range queueNames(prefix, q) {
			names[name] = struct{}{}
		}
	}
	return deleteQueues(ctx, rdb, asynq.NewInspectorFromRedisClient(rdb), names)
}
