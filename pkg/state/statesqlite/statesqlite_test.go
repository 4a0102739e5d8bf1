package statesqlite_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ia-modules/ia-go/pkg/state"
	"github.com/ia-modules/ia-go/pkg/state/statesqlite"
	"github.com/ia-modules/ia-go/pkg/state/statetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// memStore returns a store on a private in-memory database.
func memStore(t *testing.T) state.Store {
	s, err := statesqlite.New(t.Context(), statesqlite.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestStoreMemory(t *testing.T) {
	t.Parallel()
	statetest.Exercise(t, memStore)
}

func TestStoreFile(t *testing.T) {
	t.Parallel()
	statetest.Exercise(t, func(t *testing.T) state.Store { return fileStore(t) })
}
