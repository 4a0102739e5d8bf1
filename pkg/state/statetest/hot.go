package statetest

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/state"
)

// NewHotFunc returns a fresh, isolated Hot and registers its cleanup.
type NewHotFunc func(t *testing.T) state.Hot

// ExerciseHot runs the Hot conformance suite against stores from newHot.
func ExerciseHot(t *testing.T, newHot NewHotFunc) {
	t.Helper()

	t.Run("IdempotencyClaim", func(t *testing.T) {
		t.Parallel()
		h := newHot(t)
		ctx := t.Context()
		got, claimed, err := h.IdempotencyClaim(ctx, "req-1", "run-a", time.Minute)
		require.NoError(t, err)
		require.True(t, claimed)
		require.Equal(t, "run-a", got)
		got, claimed, err = h.IdempotencyClaim(ctx, "req-1", "run-b", time.Minute)
		require.NoError(t, err)
		require.False(t, claimed)
		require.Equal(t, "run-a", got)
		_, claimed, err = h.IdempotencyClaim(ctx, "req-2", "run-c", time.Minute)
		require.NoError(t, err)
		require.True(t, claimed)

		// Expiry has no signal to wait on; poll briefly.
		_, claimed, err = h.IdempotencyClaim(ctx, "short", "x", 30*time.Millisecond)
		require.NoError(t, err)
		require.True(t, claimed)
		require.Eventually(t, func() bool {
			got, claimed, err := h.IdempotencyClaim(ctx, "short", "y", time.Minute)
			return err == nil && claimed && got == "y"
		}, 5*time.Second, 10*time.Millisecond)
	})

	t.Run("RateLimitAllow", func(t *testing.T) {
		t.Parallel()
		h := newHot(t)
		ctx := t.Context()
		for i := range 3 {
			ok, _, err := h.RateLimitAllow(ctx, "llm", 1, 3)
			require.NoError(t, err)
			require.True(t, ok, "token %d of the burst", i)
		}
		ok, retry, err := h.RateLimitAllow(ctx, "llm", 1, 3)
		require.NoError(t, err)
		require.False(t, ok)
		require.Greater(t, retry, time.Duration(0))
		require.LessOrEqual(t, retry, time.Second)

		_, _, err = h.RateLimitAllow(ctx, "bad", 0, 1)
		require.Error(t, err)

		// Shared bucket: concurrent callers get exactly the burst.
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			allowed int
		)
		for range 12 {
			wg.Go(func() {
				ok, _, err := h.RateLimitAllow(ctx, "shared", 0.001, 5)
				if !assertNoError(t, err) {
					return
				}
				if ok {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		require.Equal(t, 5, allowed)

		// Refill: a fast bucket allows again soon.
		ok, _, err = h.RateLimitAllow(ctx, "fast", 50, 1)
		require.NoError(t, err)
		require.True(t, ok)
		require.Eventually(t, func() bool {
			ok, _, err := h.RateLimitAllow(ctx, "fast", 50, 1)
			return err == nil && ok
		}, 5*time.Second, 5*time.Millisecond)
	})

	t.Run("Lock", func(t *testing.T) {
		t.Parallel()
		h := newHot(t)
		ctx := t.Context()
		tok1, ok, err := h.LockAcquire(ctx, "sched", time.Minute)
		require.NoError(t, err)
		require.True(t, ok)
		require.Positive(t, tok1)
		_, ok, err = h.LockAcquire(ctx, "sched", time.Minute)
		require.NoError(t, err)
		require.False(t, ok)
		require.ErrorIs(t, h.LockRelease(ctx, "sched", tok1+100), state.ErrLockNotHeld)
		require.NoError(t, h.LockRelease(ctx, "sched", tok1))
		require.ErrorIs(t, h.LockRelease(ctx, "sched", tok1), state.ErrLockNotHeld)

		tok2, ok, err := h.LockAcquire(ctx, "sched", 30*time.Millisecond)
		require.NoError(t, err)
		require.True(t, ok)
		require.Greater(t, tok2, tok1)
		var tok3 int64
		require.Eventually(t, func() bool {
			tok, ok, err := h.LockAcquire(ctx, "sched", time.Minute)
			tok3 = tok
			return err == nil && ok
		}, 5*time.Second, 10*time.Millisecond)
		require.Greater(t, tok3, tok2)
		require.ErrorIs(t, h.LockRelease(ctx, "sched", tok2), state.ErrLockNotHeld, "an expired holder cannot release")
		require.NoError(t, h.LockRelease(ctx, "sched", tok3))
	})

	recv := func(t *testing.T, ch <-chan state.Event, n int) []state.Event {
		t.Helper()
		var out []state.Event
		timeout := time.After(10 * time.Second)
		for len(out) < n {
			select {
			case ev, ok := <-ch:
				require.True(t, ok, "channel closed after %d events", len(out))
				out = append(out, ev)
			case <-timeout:
				require.FailNow(t, "timed out", "got %d of %d events", len(out), n)
			}
		}
		return out
	}

	t.Run("Events", func(t *testing.T) {
		t.Parallel()
		h := newHot(t)
		ctx := t.Context()
		all, stopAll, err := h.EventSubscribe(ctx, "")
		require.NoError(t, err)
		defer stopAll()
		r1, stopR1, err := h.EventSubscribe(ctx, "r1")
		require.NoError(t, err)
		defer stopR1()

		at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		pub := []state.Event{
			{RunID: "r1", StepID: "a", Type: "step.started", At: at},
			{RunID: "r2", StepID: "x", Type: "step.started"},
			{RunID: "r1", StepID: "a", Type: "step.succeeded", Data: json.RawMessage(`{"out":1}`)},
			{RunID: "r1", Type: "run.completed"},
		}
		for _, ev := range pub {
			require.NoError(t, h.EventPublish(ctx, ev))
		}

		got := recv(t, all, 4)
		for i, ev := range got {
			require.Equal(t, pub[i].Type, ev.Type)
			require.Equal(t, pub[i].RunID, ev.RunID)
			require.Equal(t, int64(i+1), ev.Seq)
			require.False(t, ev.At.IsZero())
		}
		require.True(t, at.Equal(got[0].At))
		mine := recv(t, r1, 3)
		require.Equal(t, []int64{1, 2, 3}, []int64{mine[0].Seq, mine[1].Seq, mine[2].Seq})
		require.Equal(t, "a", mine[1].StepID)
		require.JSONEq(t, `{"out":1}`, string(mine[1].Data))
		require.Equal(t, "run.completed", mine[2].Type)

		since, err := h.EventsSince(ctx, "r1", 1, 10)
		require.NoError(t, err)
		require.Len(t, since, 2)
		require.Equal(t, int64(2), since[0].Seq)
		since, err = h.EventsSince(ctx, "", 0, 2)
		require.NoError(t, err)
		require.Len(t, since, 2)
		require.Equal(t, "r2", since[1].RunID)
		none, err := h.EventsSince(ctx, "unknown", 0, 10)
		require.NoError(t, err)
		require.Empty(t, none)

		stopR1()
		_, open := <-r1
		require.False(t, open, "stop closes the channel")
		stopR1() // idempotent
	})

	t.Run("EventsResume", func(t *testing.T) {
		t.Parallel()
		h := newHot(t)
		ctx := t.Context()
		require.NoError(t, h.EventPublish(ctx, state.Event{RunID: "r", Type: "e1"}))
		require.NoError(t, h.EventPublish(ctx, state.Event{RunID: "r", Type: "e2"}))
		// Client saw seq 1; it subscribes first, then replays, then dedupes.
		live, stop, err := h.EventSubscribe(ctx, "r")
		require.NoError(t, err)
		defer stop()
		require.NoError(t, h.EventPublish(ctx, state.Event{RunID: "r", Type: "e3"}))
		replay, err := h.EventsSince(ctx, "r", 1, 100)
		require.NoError(t, err)
		require.NoError(t, h.EventPublish(ctx, state.Event{RunID: "r", Type: "e4"}))

		var types []string
		last := int64(1)
		for _, ev := range replay {
			types = append(types, ev.Type)
			last = ev.Seq
		}
		for len(types) < 3 {
			ev := recv(t, live, 1)[0]
			if ev.Seq <= last {
				continue
			}
			types = append(types, ev.Type)
			last = ev.Seq
		}
		require.Equal(t, []string{"e2", "e3", "e4"}, types)
	})

	t.Run("EventSubscribeContextCancel", func(t *testing.T) {
		t.Parallel()
		h := newHot(t)
		ctx, cancel := context.WithCancel(t.Context())
		ch, stop, err := h.EventSubscribe(ctx, "")
		require.NoError(t, err)
		defer stop()
		cancel()
		for range ch { //nolint:revive // drain until closed
		}
	})
}
