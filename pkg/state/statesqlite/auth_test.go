package statesqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/state"
	"github.com/ia-modules/ia-go/pkg/state/statesqlite"
	"github.com/ia-modules/ia-go/pkg/state/statetest"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	statetest.ExerciseAuth(t, func(t *testing.T) state.Auth {
		s, err := statesqlite.New(t.Context(), statesqlite.Config{Path: filepath.Join(t.TempDir(), "ia.db")})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
