package scheduler_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/ia-modules/ia-go/pkg/queue/queuenats"
	"github.com/ia-modules/ia-go/pkg/scheduler"
	"github.com/ia-modules/ia-go/pkg/state"
	"github.com/ia-modules/ia-go/pkg/state/statesqlite"
	"github.com/ia-modules/ia-go/pkg/steps"
	"github.com/ia-modules/ia-go/pkg/worker"
)

// Example wires a scheduler and a worker by hand on an in-process NATS
// server and an in-memory store, and runs one pipeline to completion.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example-*")
	defer os.RemoveAll(dir)
	srv, _ := queuenats.StartEmbedded(ctx, queuenats.EmbeddedConfig{StoreDir: dir})
	defer srv.Shutdown()
	broker, _ := queuenats.New(ctx, queuenats.Config{URL: srv.ClientURL()})
	defer broker.Close()
	store, _ := statesqlite.New(ctx, statesqlite.Config{})
	defer store.Close()

	sched, _ := scheduler.New(scheduler.Config{Store: store, Broker: broker})
	work, _ := worker.New(worker.Config{Broker: broker, Registry: steps.Builtins(), Blobs: store})
	_ = sched.Start(ctx)
	_ = work.Start(ctx)
	defer func() { _ = work.Stop(ctx); _ = sched.Stop(ctx) }()

	pv, _, err := sched.PipelineImport(ctx, "greet", []byte(`{"name": "greet",
	  "steps": [{"id": "hello", "step_class": "transform", "config": {"expression": "{\"msg\": \"hello \" + who}"}}],
	  "flow": {"start_at": "hello"}, "outputs": {"message": "{{ hello.msg }}"}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	run, _, _ := sched.Submit(ctx, &scheduler.SubmitParams{PipelineVersionID: pv.ID, Input: map[string]any{"who": "world"}})
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if r, _ := store.RunGet(ctx, run.ID); r.Status == state.RunCompleted {
			fmt.Println(r.Status, string(r.Output))
			return
		}
	}
	fmt.Println("timed out")
	// Output: completed {"message":"hello world"}
}
