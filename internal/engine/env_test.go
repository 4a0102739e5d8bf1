package engine_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/internal/engine"
)

// TestDurationEnv: the duration settings read from the environment are 0
// when unset, parsed when set, and a bad value is an error naming the
// variable.
func TestDurationEnv(t *testing.T) {
	for _, tc := range []struct {
		key  string
		read func() (time.Duration, error)
	}{
		{"IA_COMMIT_DELAY", engine.CommitDelayEnv},
		{"IA_HOLD_RUN_LOCKS", engine.HoldRunLocksEnv},
	} {
		t.Run(tc.key, func(t *testing.T) {
			t.Setenv(tc.key, "")
			d, err := tc.read()
			require.NoError(t, err)
			require.Zero(t, d)
			t.Setenv(tc.key, "7ms")
			d, err = tc.read()
			require.NoError(t, err)
			require.Equal(t, 7*time.Millisecond, d)
			t.Setenv(tc.key, "-1s")
			d, err = tc.read()
			require.NoError(t, err)
			require.Equal(t, -time.Second, d)
			t.Setenv(tc.key, "soon")
			_, err = tc.read()
			require.ErrorContains(t, err, tc.key)
		})
	}
}
