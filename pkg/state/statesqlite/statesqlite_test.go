package statesqlite_test

import (
	"path/filepath"
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

func TestStoreMemory(t *testing.T) {
	t.Parallel()
	statetest.Exercise(t, func(t *testing.T) state.Store {
		s, err := statesqlite.New(t.Context(), statesqlite.Config{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestStoreFile(t *testing.T) {
	t.Parallel()
	statetest.Exercise(t, func(t *testing.T) state.Store {
		s, err := statesqlite.New(t.Context(), statesqlite.Config{Path: filepath.Join(t.TempDir(), "ia.db")})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
