package steps_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/ia-modules/ia-go/pkg/steps"
)

func ExampleRegistry_Register() {
	r := steps.Builtins()
	r.Register("greet", steps.HandlerFunc(func(_ context.Context, in *steps.Input) (*steps.Output, error) {
		name, _ := in.Data["name"].(string)
		if name == "" {
			// Retrying cannot make the name appear.
			return nil, steps.NonRetryable(errors.New("name is required"))
		}
		return &steps.Output{Data: map[string]any{"greeting": "hello " + name}}, nil
	}))

	h, _ := r.Lookup("greet")
	out, _ := h.Run(context.Background(), &steps.Input{StepID: "greet", Attempt: 1, Data: map[string]any{"name": "ada"}})
	fmt.Println(out.Data)

	_, err := h.Run(context.Background(), &steps.Input{StepID: "greet", Attempt: 1})
	fmt.Println(steps.Classify(err).Retryable)

	fmt.Println(r.RegisterSafely("greet", h) != nil)
	fmt.Println(r.Classes())
	// Output:
	// map[greeting:hello ada]
	// false
	// true
	// [echo exec fail greet sleep transform]
}
