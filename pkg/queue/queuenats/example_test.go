package queuenats_test

import (
	"context"
	"fmt"
	"os"

	"github.com/ia-modules/ia-go/pkg/queue"
	"github.com/ia-modules/ia-go/pkg/queue/queuenats"
)

// Example runs an in-process NATS server, publishes one message and handles
// it.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ia-nats-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	srv, err := queuenats.StartEmbedded(ctx, queuenats.EmbeddedConfig{StoreDir: dir})
	if err != nil {
		panic(err)
	}
	defer srv.Shutdown()

	b, err := queuenats.New(ctx, queuenats.Config{URL: srv.ClientURL(), Prefix: "example", DeleteOnClose: true})
	if err != nil {
		panic(err)
	}
	defer b.Close()

	done := make(chan struct{})
	sub, err := b.Subscribe(ctx, "greetings", queue.SubscribeConfig{Concurrency: 4}, queue.HandlerFunc(func(ctx context.Context, d queue.Delivery) {
		fmt.Printf("%s (delivery %d)\n", d.Message().Body, d.NumDelivered())
		if err := d.Ack(ctx); err != nil {
			panic(err)
		}
		close(done)
	}))
	if err != nil {
		panic(err)
	}
	defer sub.Stop(ctx)

	if err := b.Publish(ctx, queue.Message{ID: "msg-1", Queue: "greetings", Body: []byte("hello")}); err != nil {
		panic(err)
	}
	<-done
	// Output: hello (delivery 1)
}
