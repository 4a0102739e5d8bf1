package queuenats_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/internal/testenv"
	"github.com/ia-modules/ia-go/pkg/queue"
	"github.com/ia-modules/ia-go/pkg/queue/queuenats"
)

// TestDirect covers the request-reply lane between two connections under
// one prefix: replies, the receiver's errors, no receiver (none, stopped),
// bad names, the concurrency bound and a requester's deadline.
func TestDirect(t *testing.T) {
	t.Parallel()
	srv := embedded(t)
	prefix := testenv.Name("d")
	open := func() *queuenats.Broker {
		b, err := queuenats.New(t.Context(), queuenats.Config{URL: srv.ClientURL(), Prefix: prefix})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, b.Close()) })
		return b
	}
	server, client := open(), open()
	ctx := t.Context()

	var inside, most atomic.Int32
	release := make(chan struct{})
	sub, err := server.ServeDirect(ctx, "recv", 2, func(_ context.Context, body []byte) ([]byte, error) {
		switch string(body) {
		case "fail":
			return nil, errors.New("no thanks")
		case "block":
			n := inside.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			<-release
			inside.Add(-1)
		}
		return append([]byte("re:"), body...), nil
	})
	require.NoError(t, err)

	out, err := client.RequestDirect(ctx, "recv", []byte("hi"))
	require.NoError(t, err)
	require.Equal(t, "re:hi", string(out))

	_, err = client.RequestDirect(ctx, "recv", []byte("fail"))
	require.ErrorContains(t, err, "no thanks")
	require.NotErrorIs(t, err, queue.ErrNoReceiver)

	_, err = client.RequestDirect(ctx, "nobody", []byte("hi"))
	require.ErrorIs(t, err, queue.ErrNoReceiver)

	_, err = client.RequestDirect(ctx, "a.b", nil)
	require.ErrorIs(t, err, queue.ErrInvalidQueue)
	_, err = server.ServeDirect(ctx, "a b", 1, nil)
	require.ErrorIs(t, err, queue.ErrInvalidQueue)

	// Three blocked requests, two slots: the third waits for one.
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			out, err := client.RequestDirect(ctx, "recv", []byte("block"))
			require.NoError(t, err)
			require.Equal(t, "re:block", string(out))
		})
	}
	require.Eventually(t, func() bool { return inside.Load() == 2 }, 5*time.Second, time.Millisecond)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = client.RequestDirect(short, "recv", []byte("late"))
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded, "a request behind full slots waits")
	close(release)
	wg.Wait()
	require.EqualValues(t, 2, most.Load(), "more handlers than slots ran at once")

	require.NoError(t, sub.Stop(ctx))
	require.NoError(t, sub.Stop(ctx), "Stop twice")
	_, err = client.RequestDirect(ctx, "recv", []byte("hi"))
	require.ErrorIs(t, err, queue.ErrNoReceiver)
}
