package statesqlite_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ia-modules/ia-go/pkg/state"
	"github.com/ia-modules/ia-go/pkg/state/statesqlite"
)

// Example records a pipeline version in an in-memory store; putting the same
// definition hash again returns the same version.
func Example() {
	ctx := context.Background()
	store, err := statesqlite.New(ctx, statesqlite.Config{Path: ":memory:"})
	if err != nil {
		panic(err)
	}
	defer store.Close()

	put := func(hash string) {
		pv, created, err := store.PipelineVersionPut(ctx, &state.PipelineVersionPutParams{
			Slug: "hello", Hash: hash, Definition: json.RawMessage(`{}`),
		})
		if err != nil {
			panic(err)
		}
		fmt.Println(pv.Version, created)
	}
	put("sha256:1")
	put("sha256:1")
	put("sha256:2")
	// Output:
	// 1 true
	// 1 false
	// 2 true
}
