package steps_test

import (
	"context"
	"fmt"

	"github.com/ia-modules/ia-go/pkg/steps"
)

// A step pauses its branch for a human by returning a map whose status is
// "human_input_required"; the engine stores the request and resumes with the
// human's answer as the step's output.
func Example_humanInput() {
	review := steps.HandlerFunc(func(_ context.Context, in *steps.Input) (*steps.Output, error) {
		if score, _ := in.Data["score"].(float64); score >= 0.9 {
			return &steps.Output{Data: map[string]any{"approved": true}}, nil
		}
		return steps.RequestHumanInput(steps.HumanInputRequest{
			Prompt:         "Approve this draft?",
			TimeoutSeconds: 3600,
		}), nil
	})

	for _, score := range []float64{0.95, 0.5} {
		out, _ := review.Run(context.Background(), &steps.Input{Data: map[string]any{"score": score}})
		fmt.Println(score, steps.HumanInputRequired(out))
	}
	// Output:
	// 0.95 false
	// 0.5 true
}
