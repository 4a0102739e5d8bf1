package statepg_test

import (
	"testing"

	"github.com/ia-modules/ia-go/pkg/state"
	"github.com/ia-modules/ia-go/pkg/state/statetest"
)

func TestRunUpdateMany(t *testing.T) {
	t.Parallel()
	statetest.ExerciseBatch(t, func(t *testing.T) state.Store { return testStore(t) })
}

// BenchmarkRunUpdateMany measures group commit: batches of 1, 16 and 64
// updates on distinct runs, one round trip and one transaction each.
func BenchmarkRunUpdateMany(b *testing.B) {
	statetest.BenchRunUpdateMany(b, testStore(b))
}
