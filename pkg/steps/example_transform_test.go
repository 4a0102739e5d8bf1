package steps_test

import (
	"context"
	"fmt"

	"github.com/ia-modules/ia-go/pkg/steps"
)

func ExampleTransform() {
	h, _ := steps.Builtins().Lookup(steps.ClassTransform)
	out, err := h.Run(context.Background(), &steps.Input{
		StepID: "price",
		Data:   map[string]any{"price": 30.0, "qty": 4.0},
		Config: map[string]any{"expression": "{'total': price * qty, 'big': price * qty > config.limit}", "limit": 100},
	})
	fmt.Println(out.Data, err)
	// Output:
	// map[big:true total:120] <nil>
}

func ExamplePythonHandler() {
	// The worker falls back to this handler for step classes not registered
	// in Go. Paths is the worker's --python-path.
	h := steps.PythonHandler(steps.PythonConfig{Paths: []string{"examples/python"}})
	out, err := h.Run(context.Background(), &steps.Input{
		StepID: "hello", Attempt: 1, Module: "demo_steps", Class: "SyncRunStep",
		Data: map[string]any{"name": "ada"},
	})
	if err != nil {
		fmt.Println(steps.Classify(err).Code, err)
		return
	}
	fmt.Println(out.Data)
}
