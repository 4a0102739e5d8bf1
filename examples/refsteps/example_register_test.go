package refsteps_test

import (
	"context"
	"fmt"

	"github.com/ia-modules/ia-go/examples/refsteps"
	"github.com/ia-modules/ia-go/pkg/steps"
)

// A registered class is an ordinary handler: here the loop pipeline's
// reviewer rejects the first draft and approves the second.
func ExampleRegister() {
	reg := steps.NewRegistry()
	refsteps.Register(reg)
	review, _ := reg.Lookup("ReviewContentStep")
	for rev := 1; rev <= 2; rev++ {
		out, err := review.Run(context.Background(), &steps.Input{StepID: "review_content", Data: map[string]any{"revision_count": rev}})
		fmt.Printf("%+v %v\n", out.Data, err)
	}
	// Output:
	// {Approved:false Feedback:needs more depth (score 65, wants 75) QualityScore:65} <nil>
	// {Approved:true Feedback:good to publish QualityScore:80} <nil>
}
