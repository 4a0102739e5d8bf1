package steps_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/steps"
)

func TestClassify(t *testing.T) {
	t.Parallel()

	base := errors.New("base")
	tests := []struct {
		name string
		err  error
		want steps.Classification
	}{
		{name: "nil", err: nil, want: steps.Classification{}},
		{name: "plain", err: base, want: steps.Classification{Retryable: true, Code: steps.CodeError}},
		{name: "non retryable", err: steps.NonRetryable(base), want: steps.Classification{Code: steps.CodeNonRetryable}},
		{name: "wrapped non retryable", err: fmt.Errorf("ctx: %w", steps.NonRetryable(base)), want: steps.Classification{Code: steps.CodeNonRetryable}},
		{name: "cancel", err: steps.Cancel(base), want: steps.Classification{Code: steps.CodeCancel}},
		{name: "retry after", err: steps.RetryAfter(base, time.Minute), want: steps.Classification{Retryable: true, Delay: time.Minute, Code: steps.CodeRetryAfter}},
		{name: "snooze", err: steps.Snooze(time.Second), want: steps.Classification{Retryable: true, Delay: time.Second, Snooze: true, Code: steps.CodeSnooze}},
		{name: "deadline", err: fmt.Errorf("x: %w", context.DeadlineExceeded), want: steps.Classification{Retryable: true, Code: steps.CodeTimeout}},
		{name: "canceled", err: context.Canceled, want: steps.Classification{Retryable: true, Code: steps.CodeCanceled}},
		{name: "typed beats deadline", err: steps.NonRetryable(context.DeadlineExceeded), want: steps.Classification{Code: steps.CodeNonRetryable}},
		{name: "cancel beats non retryable", err: steps.NonRetryable(steps.Cancel(base)), want: steps.Classification{Code: steps.CodeCancel}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := steps.Classify(tt.err)
			if tt.err != nil {
				require.Equal(t, tt.err.Error(), got.Message)
			}
			got.Message = ""
			require.Equal(t, tt.want, got)
		})
	}
}

func TestTypedErrorsIsAndUnwrap(t *testing.T) {
	t.Parallel()

	base := errors.New("base")
	tests := []struct {
		name   string
		err    error
		target error
		unwrap bool
	}{
		{name: "non retryable", err: steps.NonRetryable(base), target: &steps.NonRetryableError{}, unwrap: true},
		{name: "retry after", err: steps.RetryAfter(base, time.Second), target: &steps.RetryAfterError{}, unwrap: true},
		{name: "cancel", err: steps.Cancel(base), target: &steps.CancelError{}, unwrap: true},
		{name: "snooze", err: steps.Snooze(time.Second), target: &steps.SnoozeError{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wrapped := fmt.Errorf("outer: %w", tt.err)
			require.ErrorIs(t, wrapped, tt.target)
			require.Equal(t, tt.unwrap, errors.Is(wrapped, base))
			require.NotEmpty(t, tt.err.Error())
		})
	}
	require.NotErrorIs(t, steps.Cancel(base), &steps.NonRetryableError{})
}

func TestRetryPolicy(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		p       steps.RetryPolicy
		delays  []time.Duration // after failed attempts 1, 2, ...
		wantErr bool
	}{
		{name: "defaults", p: steps.RetryPolicy{}, delays: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}},
		{name: "capped", p: steps.RetryPolicy{InitialDelay: time.Second, MaxDelay: 3 * time.Second, Multiplier: 3}, delays: []time.Duration{time.Second, 3 * time.Second, 3 * time.Second}},
		{name: "bad multiplier", p: steps.RetryPolicy{Multiplier: 0.5}, wantErr: true},
		{name: "max below initial", p: steps.RetryPolicy{InitialDelay: time.Minute, MaxDelay: time.Second}, wantErr: true},
		{name: "negative attempts", p: steps.RetryPolicy{MaxAttempts: -1}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.p.Validate()
			if tt.wantErr {
				require.ErrorIs(t, err, steps.ErrInvalidConfig)
				return
			}
			require.NoError(t, err)
			for i, want := range tt.delays {
				require.Equal(t, want, tt.p.Delay(i+1), "attempt %d", i+1)
			}
		})
	}

	t.Run("jitter", func(t *testing.T) {
		t.Parallel()
		p := steps.RetryPolicy{Jitter: true}
		for range 100 {
			d := p.Delay(2)
			require.GreaterOrEqual(t, d, 2*time.Second)
			require.LessOrEqual(t, d, 3*time.Second)
		}
	})
}
