package stateredis_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ia-modules/ia-go/internal/testenv"
	"github.com/ia-modules/ia-go/pkg/state/stateredis"
)

// Example claims an idempotency key twice: the second caller learns the run
// the first one started.
func Example() {
	ctx := context.Background()
	hot, err := stateredis.New(ctx, stateredis.Config{URL: testenv.DefaultRedisURL, Prefix: "ia:example:" + testenv.Name("x") + ":"})
	if err != nil {
		panic(err)
	}
	defer hot.Close()

	for _, run := range []string{"run-1", "run-2"} {
		existing, claimed, err := hot.IdempotencyClaim(ctx, "request-42", run, time.Second)
		if err != nil {
			panic(err)
		}
		fmt.Println(existing, claimed)
	}
	// Output:
	// run-1 true
	// run-1 false
}
