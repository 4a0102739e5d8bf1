package steps_test

import (
	"context"
	"fmt"

	"github.com/ia-modules/ia-go/pkg/steps"
)

func ExampleTyped() {
	type order struct {
		Price float64 `json:"price"`
		Qty   int     `json:"qty"`
	}
	type total struct {
		Total float64 `json:"total"`
	}
	h := steps.Typed(func(_ context.Context, _ *steps.Input, o order) (total, error) {
		return total{Total: o.Price * float64(o.Qty)}, nil
	})

	out, err := h.Run(context.Background(), &steps.Input{Data: map[string]any{"price": 2.5, "qty": 4.0}})
	fmt.Println(out.Data, err)
	// Output:
	// {10} <nil>
}
