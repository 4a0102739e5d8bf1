package scheduler

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/dag"
)

// TestStepData: the hand-encoded data of a step's live events is what
// json.Marshal gives for the same map.
func TestStepData(t *testing.T) {
	t.Parallel()
	stepErr := &dag.StepError{Message: "boom \"quoted\" <tag>", Code: "x", Retryable: true}
	errJSON, err := json.Marshal(stepErr)
	require.NoError(t, err)
	for _, tc := range []struct {
		name               string
		attempt, iteration int
		key                string
		val                []byte
		want               map[string]any
	}{
		{"started", 1, 1, "delay_ms", strconv.AppendInt(nil, 1500, 10), map[string]any{"attempt": 1, "iteration": 1, "delay_ms": int64(1500)}},
		{"succeeded", 3, 12, "error", []byte("null"), map[string]any{"attempt": 3, "iteration": 12, "error": (*dag.StepError)(nil)}},
		{"failed", 2, 0, "error", errJSON, map[string]any{"attempt": 2, "iteration": 0, "error": stepErr}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want, err := json.Marshal(tc.want)
			require.NoError(t, err)
			require.Equal(t, string(want), string(stepData(tc.attempt, tc.iteration, tc.key, tc.val)))
		})
	}
}
