package steps_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/steps"
)

func TestTyped(t *testing.T) {
	t.Parallel()

	type args struct {
		Name  string `json:"name"`
		Count int    `json:"count"`
	}
	type result struct {
		Message string `json:"message"`
	}
	errBoom := errors.New("boom")
	h := steps.Typed(func(_ context.Context, _ *steps.Input, a args) (result, error) {
		if a.Name == "boom" {
			return result{}, errBoom
		}
		return result{Message: a.Name + "!"}, nil
	})

	tests := []struct {
		name          string
		data          map[string]any
		want          any
		wantErr       error
		wantRetryable bool
	}{
		{name: "decodes", data: map[string]any{"name": "ada", "count": 2.0, "extra": true}, want: result{Message: "ada!"}},
		{name: "nil data", data: nil, want: result{Message: "!"}},
		{name: "handler error passes through", data: map[string]any{"name": "boom"}, wantErr: errBoom, wantRetryable: true},
		{name: "decode error is non-retryable", data: map[string]any{"count": "two"}, wantErr: &steps.NonRetryableError{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := h.Run(t.Context(), &steps.Input{StepID: "s", Data: tt.data})
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Equal(t, tt.wantRetryable, steps.Classify(err).Retryable)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, out.Data)
		})
	}
}

func TestHumanInput(t *testing.T) {
	t.Parallel()

	out := steps.RequestHumanInput(steps.HumanInputRequest{Prompt: "ok?", TimeoutSeconds: 60})
	require.True(t, steps.HumanInputRequired(out))
	require.Equal(t, map[string]any{"status": "human_input_required", "prompt": "ok?", "timeout_seconds": 60}, out.Data)
	require.False(t, steps.HumanInputRequired(nil))
	require.False(t, steps.HumanInputRequired(&steps.Output{Data: map[string]any{"status": "done"}}))
	require.False(t, steps.HumanInputRequired(&steps.Output{Data: "human_input_required"}))
}
