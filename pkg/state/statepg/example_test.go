package statepg_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ia-modules/ia-go/internal/testenv"
	"github.com/ia-modules/ia-go/pkg/state"
	"github.com/ia-modules/ia-go/pkg/state/statepg"
)

// Example starts a run and applies one scheduler decision atomically.
func Example() {
	ctx := context.Background()
	schema := testenv.Name("iaexample")
	store, err := statepg.New(ctx, statepg.Config{URL: testenv.DefaultDatabaseURL, Schema: schema})
	if err != nil {
		panic(err)
	}
	defer func() {
		_, _ = store.Pool().Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`)
		_ = store.Close()
	}()

	pv, _, err := store.PipelineVersionPut(ctx, &state.PipelineVersionPutParams{
		Slug: "hello", Hash: "sha256:1", Definition: json.RawMessage(`{"steps":[{"id":"greet"}]}`),
	})
	if err != nil {
		panic(err)
	}
	run, _, err := store.RunInsert(ctx, &state.RunInsertParams{
		Run: state.Run{PipelineVersionID: pv.ID, PipelineSlug: pv.Slug, IdempotencyKey: "req-1"},
	})
	if err != nil {
		panic(err)
	}
	run, err = store.RunUpdate(ctx, &state.RunUpdateParams{
		ID: run.ID, ExpectedVersion: run.Version, Status: state.RunRunning,
		Attempts: []state.StepAttempt{{StepID: "greet", Attempt: 1, Status: "running"}},
		Outbox:   []state.OutboxMessage{{Queue: "steps", MsgID: run.ID + "/greet/1"}},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(run.Status, run.Version)

	// A writer holding the old version loses.
	_, err = store.RunUpdate(ctx, &state.RunUpdateParams{ID: run.ID, ExpectedVersion: 1, Status: state.RunFailed})
	fmt.Println(errors.Is(err, state.ErrConflict))
	// Output:
	// running 2
	// true
}
