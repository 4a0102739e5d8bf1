package steps_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/steps"
)

func constHandler(v any) steps.Handler {
	return steps.HandlerFunc(func(context.Context, *steps.Input) (*steps.Output, error) {
		return &steps.Output{Data: v}, nil
	})
}

// configured has both optional interfaces.
type configured struct{ steps.Handler }

func (configured) Timeout() time.Duration { return 3 * time.Second }
func (configured) RetryPolicy() *steps.RetryPolicy {
	return &steps.RetryPolicy{MaxAttempts: 7}
}

func TestRegistryRegister(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		class   string
		h       steps.Handler
		wantErr error
	}{
		{name: "ok", class: "b", h: constHandler(1)},
		{name: "duplicate", class: "a", h: constHandler(1), wantErr: steps.ErrDuplicate},
		{name: "empty class", class: "", h: constHandler(1), wantErr: steps.ErrEmptyClass},
		{name: "nil handler", class: "c", h: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := steps.NewRegistry()
			r.Register("a", constHandler(0))
			err := r.RegisterSafely(tt.class, tt.h)
			switch {
			case tt.h == nil:
				require.Error(t, err)
				require.Panics(t, func() { r.Register(tt.class, tt.h) })
			case tt.wantErr != nil:
				require.ErrorIs(t, err, tt.wantErr)
				require.Panics(t, func() { r.Register(tt.class, tt.h) })
			default:
				require.NoError(t, err)
				_, ok := r.Lookup(tt.class)
				require.True(t, ok)
			}
		})
	}
}

func TestRegistryLookupAndClasses(t *testing.T) {
	t.Parallel()

	r := steps.NewRegistry()
	r.Register("zeta", constHandler("z"))
	r.Register("alpha", constHandler("a"))
	require.Equal(t, []string{"alpha", "zeta"}, r.Classes())

	h, ok := r.Lookup("alpha")
	require.True(t, ok)
	out, err := h.Run(t.Context(), &steps.Input{})
	require.NoError(t, err)
	require.Equal(t, "a", out.Data)

	_, ok = r.Lookup("missing")
	require.False(t, ok)
}

func TestRegistryUseOrderAndOptionalInterfaces(t *testing.T) {
	t.Parallel()

	var order []string
	tag := func(name string) steps.Middleware {
		return func(next steps.Handler) steps.Handler {
			return steps.HandlerFunc(func(ctx context.Context, in *steps.Input) (*steps.Output, error) {
				order = append(order, name)
				return next.Run(ctx, in)
			})
		}
	}
	r := steps.NewRegistry()
	r.Use(tag("outer"))
	r.Register("s", configured{constHandler("x")})
	r.Use(tag("inner")) // applies to handlers registered earlier too

	h, ok := r.Lookup("s")
	require.True(t, ok)
	_, err := h.Run(t.Context(), &steps.Input{})
	require.NoError(t, err)
	require.Equal(t, []string{"outer", "inner"}, order)

	d, ok := steps.TimeoutOf(h)
	require.True(t, ok)
	require.Equal(t, 3*time.Second, d)
	p, ok := steps.RetryPolicyOf(h)
	require.True(t, ok)
	require.Equal(t, 7, p.MaxAttempts)

	_, ok = steps.TimeoutOf(constHandler(1))
	require.False(t, ok)
	_, ok = steps.RetryPolicyOf(constHandler(1))
	require.False(t, ok)
}

func TestRecover(t *testing.T) {
	t.Parallel()

	h := steps.Chain(steps.HandlerFunc(func(context.Context, *steps.Input) (*steps.Output, error) {
		panic("boom")
	}), steps.Recover())
	out, err := h.Run(t.Context(), &steps.Input{})
	require.Nil(t, out)
	require.ErrorContains(t, err, "boom")
	require.False(t, steps.Classify(err).Retryable)
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()

	k := steps.IdempotencyKey("run", "step", 0, 1)
	require.Len(t, k, 32)
	require.Equal(t, k, steps.IdempotencyKey("run", "step", 0, 1))
	require.NotEqual(t, k, steps.IdempotencyKey("run", "step", 0, 2))
	require.NotEqual(t, k, steps.IdempotencyKey("run", "step", 1, 1))
	// Keys are stable across versions: a step may have stored them.
	require.Equal(t, "0cdc5970c88faa10197911add1107ae6", k)
	require.Equal(t, "1572fb5862d15d92f0bd922b7fc6b4b4", steps.IdempotencyKey("01a2-ff", "s\"x", 12, 3))
	require.Equal(t, "4c36e58859bbac056723daca56abbc37", steps.IdempotencyKey("r", "é\n", -1, 1<<40))
	// Separators inside ids cannot make two tuples collide.
	require.NotEqual(t, steps.IdempotencyKey("a\"", "b", 0, 1), steps.IdempotencyKey("a", "\"b", 0, 1))
}
