package scheduler

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/state"
)

// slowBatch is a batchUpdater that takes a while per batch and records how
// many batches ran at once.
type slowBatch struct {
	running, most atomic.Int32
	batches       atomic.Int32
}

func (b *slowBatch) RunUpdateMany(_ context.Context, ps []*state.RunUpdateParams) ([]int64, []error) {
	n := b.running.Add(1)
	defer b.running.Add(-1)
	for {
		m := b.most.Load()
		if n <= m || b.most.CompareAndSwap(m, n) {
			break
		}
	}
	b.batches.Add(1)
	time.Sleep(20 * time.Millisecond)
	versions := make([]int64, len(ps))
	errs := make([]error, len(ps))
	for i, p := range ps {
		if p.ExpectedVersion < 0 {
			errs[i] = fmt.Errorf("run %s: %w", p.ID, state.ErrConflict)
			continue
		}
		versions[i] = p.ExpectedVersion + 1
	}
	return versions, errs
}

// TestCommitterConcurrency: at most maxLeaders batches commit at once, the
// others' updates wait and ride in later batches, and every caller gets
// its own update's outcome.
func TestCommitterConcurrency(t *testing.T) {
	t.Parallel()
	for _, leaders := range []int{1, 3} {
		t.Run(fmt.Sprint("leaders=", leaders), func(t *testing.T) {
			t.Parallel()
			fake := &slowBatch{}
			c := &committer{batch: fake, maxLeaders: leaders}
			const callers = 40
			var wg sync.WaitGroup
			for i := range callers {
				wg.Go(func() {
					expected := int64(i)
					if i%7 == 0 {
						expected = -1 // a conflict, for this update alone
					}
					v, err := c.commit(t.Context(), &state.RunUpdateParams{ID: fmt.Sprint("run-", i), ExpectedVersion: expected})
					if expected < 0 {
						require.ErrorIs(t, err, state.ErrConflict)
						return
					}
					require.NoError(t, err)
					require.Equal(t, expected+1, v)
				})
			}
			wg.Wait()
			require.Equal(t, int32(leaders), fake.most.Load(), "batches at once")
			require.Less(t, fake.batches.Load(), int32(callers), "updates were grouped")
			require.Zero(t, c.leaders, "no leader left behind")
		})
	}
}
