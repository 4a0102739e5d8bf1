package queueasynq_test

import (
	"context"
	"fmt"

	"github.com/ia-modules/ia-go/internal/testenv"
	"github.com/ia-modules/ia-go/pkg/queue"
	"github.com/ia-modules/ia-go/pkg/queue/queueasynq"
)

// Example publishes one high-priority message through Redis and handles it.
func Example() {
	ctx := context.Background()
	b, err := queueasynq.New(ctx, queueasynq.Config{
		RedisURL:      testenv.DefaultRedisURL,
		Prefix:        testenv.Name("example"), // isolates this run's queues
		DeleteOnClose: true,
	})
	if err != nil {
		panic(err)
	}
	defer b.Close()

	done := make(chan struct{})
	sub, err := b.Subscribe(ctx, "greetings", queue.SubscribeConfig{Concurrency: 4}, queue.HandlerFunc(func(ctx context.Context, d queue.Delivery) {
		m := d.Message()
		fmt.Printf("%s priority=%d run=%s\n", m.Body, m.Priority, m.Headers["run_id"])
		if err := d.Ack(ctx); err != nil {
			panic(err)
		}
		close(done)
	}))
	if err != nil {
		panic(err)
	}
	defer sub.Stop(ctx)

	err = b.Publish(ctx, queue.Message{
		ID:       "msg-1",
		Queue:    "greetings",
		Priority: queue.PriorityHigh,
		Headers:  map[string]string{"run_id": "r1"},
		Body:     []byte("hello"),
	})
	if err != nil {
		panic(err)
	}
	<-done
	// Output: hello priority=1 run=r1
}
