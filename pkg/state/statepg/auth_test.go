package statepg_test

import (
	"testing"

	"github.com/ia-modules/ia-go/pkg/state"
	"github.com/ia-modules/ia-go/pkg/state/statetest"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	statetest.ExerciseAuth(t, func(t *testing.T) state.Auth { return testStore(t) })
}
