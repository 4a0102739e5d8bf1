package steps_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/steps"
)

func TestBuiltinsRegistered(t *testing.T) {
	t.Parallel()

	require.Equal(t, []string{"echo", "exec", "fail", "sleep", "transform"}, steps.Builtins().Classes())
	require.Panics(t, func() { steps.RegisterBuiltins(steps.Builtins()) })
}

func TestEcho(t *testing.T) {
	t.Parallel()

	data := map[string]any{"a": 1.0, "b": "x"}
	tests := []struct {
		name      string
		data      map[string]any
		config    map[string]any
		want      any
		retryable bool
		wantErr   bool
	}{
		{name: "all", data: data, want: data},
		{name: "nil data", want: map[string]any{}},
		{name: "fields", data: data, config: map[string]any{"fields": []any{"b", "missing"}}, want: map[string]any{"b": "x"}},
		{name: "bad fields", data: data, config: map[string]any{"fields": "b"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := steps.Echo().Run(t.Context(), &steps.Input{Data: tt.data, Config: tt.config})
			if tt.wantErr {
				require.ErrorIs(t, err, steps.ErrInvalidConfig)
				require.False(t, steps.Classify(err).Retryable)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, out.Data)
		})
	}
}

func TestTransform(t *testing.T) {
	t.Parallel()

	h := steps.Transform()
	tests := []struct {
		name      string
		expr      any
		data      map[string]any
		inputs    map[string]any
		want      any
		errSubstr string
	}{
		{
			name: "map over top-level keys",
			expr: "{'total': price * qty, 'big': price * qty > 100}",
			data: map[string]any{"price": 30.0, "qty": 4.0},
			want: map[string]any{"total": 120.0, "big": true},
		},
		{
			name: "data, inputs and config",
			expr: "{'n': len(data.items), 'who': inputs.user, 'mode': config.mode}",
			data: map[string]any{"items": []any{1, 2, 3}}, inputs: map[string]any{"user": "ada"},
			want: map[string]any{"n": 3, "who": "ada", "mode": "fast"},
		},
		{name: "scalar result", expr: "input.x + 1", data: map[string]any{"x": 1.0}, want: 2.0},
		{name: "missing key is nil", expr: "nothing ?? 'default'", want: "default"},
		{name: "compile error names expression", expr: "1 +* 2", errSubstr: `"1 +* 2"`},
		{name: "runtime error", expr: "x.y.z", data: map[string]any{"x": 1.0}, errSubstr: "evaluate"},
		{name: "missing expression", expr: nil, errSubstr: "expression is required"},
		{name: "expression not a string", expr: 3.0, errSubstr: "want string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := map[string]any{"mode": "fast"}
			if tt.expr != nil {
				cfg["expression"] = tt.expr
			}
			out, err := h.Run(t.Context(), &steps.Input{StepID: "t", Data: tt.data, Inputs: tt.inputs, Config: cfg})
			if tt.errSubstr != "" {
				require.ErrorContains(t, err, tt.errSubstr)
				require.Equal(t, steps.CodeNonRetryable, steps.Classify(err).Code)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, out.Data)
		})
	}
}

func TestFail(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		config    map[string]any
		attempt   int
		wantOut   any
		retryable bool
		errSubstr string
	}{
		{name: "default fails retryably", attempt: 1, retryable: true, errSubstr: "step failed"},
		{name: "message", config: map[string]any{"message": "nope"}, attempt: 5, retryable: true, errSubstr: "nope"},
		{name: "non retryable", config: map[string]any{"retryable": false}, attempt: 1, errSubstr: "step failed"},
		{name: "fails within fail_attempts", config: map[string]any{"fail_attempts": 2.0}, attempt: 2, retryable: true, errSubstr: "attempt 2"},
		{name: "succeeds after fail_attempts", config: map[string]any{"fail_attempts": 2.0}, attempt: 3, wantOut: map[string]any{"attempts": 3}},
		{name: "bad fail_attempts", config: map[string]any{"fail_attempts": 1.5}, attempt: 1, errSubstr: "want integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := steps.Fail().Run(t.Context(), &steps.Input{StepID: "f", Attempt: tt.attempt, Config: tt.config})
			if tt.errSubstr != "" {
				require.ErrorContains(t, err, tt.errSubstr)
				require.Equal(t, tt.retryable, steps.Classify(err).Retryable)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantOut, out.Data)
		})
	}
}

func TestSleep(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		duration any
		want     time.Duration
		wantErr  bool
	}{
		{name: "string", duration: "250ms", want: 250 * time.Millisecond},
		{name: "seconds", duration: 1.5, want: 1500 * time.Millisecond},
		{name: "seconds as string", duration: "2", want: 2 * time.Second},
		{name: "absent", duration: nil, want: 0},
		{name: "bad", duration: "soon", wantErr: true},
		{name: "negative", duration: -1.0, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A bubble: time is fake, so the test takes no wall time.
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				out, err := steps.Sleep().Run(t.Context(), &steps.Input{Config: map[string]any{"duration": tt.duration}})
				if tt.wantErr {
					require.ErrorIs(t, err, steps.ErrInvalidConfig)
					return
				}
				require.NoError(t, err)
				require.Equal(t, tt.want, time.Since(start))
				require.Equal(t, map[string]any{"slept": tt.want.String()}, out.Data)
			})
		})
	}

	t.Run("honours ctx", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			_, err := steps.Sleep().Run(ctx, &steps.Input{Config: map[string]any{"duration": "1h"}})
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.Equal(t, steps.CodeTimeout, steps.Classify(err).Code)
		})
	})
}
