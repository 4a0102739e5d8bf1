package engine

import (
	"context"
	"errors"
	"strings"

	"github.com/ia-modules/ia-go/pkg/queue"
	"github.com/ia-modules/ia-go/pkg/queue/queueasynq"
	"github.com/ia-modules/ia-go/pkg/queue/queuenats"
	"github.com/ia-modules/ia-go/pkg/state/statepg"
	"github.com/ia-modules/ia-go/pkg/state/stateredis"
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
		errs = append(errs, statepg.DropSchema(ctx, u, cfg.Prefix))
	}
	switch u := cfg.QueueURL; {
	case strings.HasPrefix(u, "nats://"), strings.HasPrefix(u, "tls://"):
		errs = append(errs, queuenats.Drop(ctx, u, cfg.Prefix))
	case strings.HasPrefix(u, "redis://"), strings.HasPrefix(u, "rediss://"):
		errs = append(errs, queueasynq.Drop(ctx, u, cfg.Prefix, append([]string{queue.DefaultTaskQueue, queue.EventsQueue}, queues...)...))
	}
	if u := cfg.RedisURL; strings.HasPrefix(u, "redis") {
		errs = append(errs, stateredis.Drop(ctx, u, hotPrefix(cfg.Prefix)))
	}
	return errors.Join(errs...)
}
