package queuenats

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// streamOf is the stream of the brokers with prefix.
func streamOf(prefix string) string { return prefix + "_q" }

// Drop deletes, on the server at url, the stream of the brokers with prefix
// and with it every message and consumer of theirs. For throw-away
// namespaces (tests, benchmarks); a missing stream is not an error.
func Drop(ctx context.Context, url, prefix string) error {
	nc, err := nats.Connect(url)
	if err != nil {
		return fmt.Errorf("queuenats: drop: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("queuenats: drop: %w", err)
	}
	if err := js.DeleteStream(ctx, streamOf(prefix)); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("queuenats: drop stream %s: %w", streamOf(prefix), err)
	}
	return nil
}
