package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/ia-modules/ia-go/pkg/queue"
)

// Drop removes what an engine of cfg's namespace (cfg.Prefix) left on the
// servers cfg names: the Postgres schema, the JetStream stream or the asynq
// queues (queue.DefaultTaskQueue and queue.EventsQueue, plus queues), and
// the Redis hot-state keys. Embedded data lives in a directory instead.
// It is for throw-away namespaces (tests, benchmarks); every error is
// returned, joined, after trying the rest.
func Drop(ctx context.Context, cfg Config, queues ...string) error {
	if cfg.Prefix == "" {
		return errors.New("engine: drop: no prefix")
	}
	var errs []error
	if u := cfg.DatabaseURL; strings.HasPrefix(u, "postgres") {
		conn, err := pgx.Connect(ctx, u)
		if err == nil {
			_, err = conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{cfg.Prefix}.Sanitize()+` CASCADE`)
			_ = conn.Close(ctx)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("dropping schema %s: %w", cfg.Prefix, err))
		}
	}
	queues = append([]string{queue.DefaultTaskQueue, queue.EventsQueue}, queues...)
	switch u := cfg.QueueURL; {
	case strings.HasPrefix(u, "nats://"), strings.HasPrefix(u, "tls://"):
		errs = append(errs, dropStream(ctx, u, cfg.Prefix))
	case strings.HasPrefix(u, "redis://"), strings.HasPrefix(u, "rediss://"):
		errs = append(errs, dropAsynqQueues(u, cfg.Prefix, queues))
	}
	if u := cfg.RedisURL; strings.HasPrefix(u, "redis") {
		errs = append(errs, dropHotKeys(ctx, u, cfg.Prefix))
	}
	return errors.Join(errs...)
}

// dropStream deletes the stream queuenats names after prefix (<prefix>_q).
func dropStream(ctx context.Context, url, prefix string) error {
	nc, err := nats.Connect(url)
	if err != nil {
		return fmt.Errorf("dropping stream: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	if err := js.DeleteStream(ctx, prefix+"_q"); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("dropping stream %s_q: %w", prefix, err)
	}
	return nil
}

// dropAsynqQueues deletes the asynq queues queueasynq names after prefix:
// <prefix>:<q>, plus :high and :low.
func dropAsynqQueues(url, prefix string, queues []string) error {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	insp := asynq.NewInspectorFromRedisClient(rdb)
	var errs []error
	for _, q := range queues {
		for _, name := range []string{prefix + ":" + q, prefix + ":" + q + ":high", prefix + ":" + q + ":low"} {
			if err := insp.DeleteQueue(name, true); err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
				errs = append(errs, fmt.Errorf("dropping asynq queue %s: %w", name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// dropHotKeys deletes the hot state's keys ({<prefix>:}..., as openHot
// names them).
func dropHotKeys(ctx context.Context, url, prefix string) error {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	iter := rdb.Scan(ctx, 0, "{"+prefix+":}*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("dropping hot state keys: %w", err)
	}
	if len(keys) > 0 {
		if err := rdb.Del(ctx, keys...).Err(); err != nil {
			return fmt.Errorf("dropping hot state keys: %w", err)
		}
	}
	return nil
}
