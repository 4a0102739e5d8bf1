package stateredis

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// keyPrefix starts every key of a Hot with Config.Prefix prefix: a hash
// tag, so a cluster keeps them in one slot.
func keyPrefix(prefix string) string { return "{" + prefix + "}" }

// Drop deletes, on the Redis at url, every key of the hot state with
// Config.Prefix prefix. For throw-away namespaces (tests, benchmarks).
func Drop(ctx context.Context, url, prefix string) error {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return fmt.Errorf("stateredis: drop: %w", err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	iter := rdb.Scan(ctx, 0, keyPrefix(prefix)+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("stateredis: drop: %w", err)
	}
	if len(keys) > 0 {
		if err := rdb.Del(ctx, keys...).Err(); err != nil {
			return fmt.Errorf("stateredis: drop: %w", err)
		}
	}
	return nil
}
