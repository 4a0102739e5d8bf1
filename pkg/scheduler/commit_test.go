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
					v, _, err := c.commit(t.Context(), &state.RunUpdateParams{ID: fmt.Sprint("run-", i), ExpectedVersion: expected}, nil, false)
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

// slowWriter is a slowBatch that also takes run inserts.
type slowWriter struct {
	slowBatch
	writes atomic.Int32
}

func (w *slowWriter) RunWriteMany(ctx context.Context, ws []state.RunWrite) []state.RunWriteResult {
	w.writes.Add(1)
	var ps []*state.RunUpdateParams
	for _, x := range ws {
		if x.Update != nil {
			ps = append(ps, x.Update)
		}
	}
	versions, errs := w.RunUpdateMany(ctx, ps)
	res := make([]state.RunWriteResult, len(ws))
	j := 0
	for i, x := range ws {
		if x.Insert != nil {
			r := x.Insert.Run
			r.Version = 1
			res[i] = state.RunWriteResult{Run: &r, Created: true}
			continue
		}
		res[i] = state.RunWriteResult{Version: versions[j], Err: errs[j]}
		j++
	}
	return res
}

// TestCommitterGroupsInserts: new runs ride in the decisions' group
// commits, and each caller gets its own outcome.
func TestCommitterGroupsInserts(t *testing.T) {
	t.Parallel()
	fake := &slowWriter{}
	c := &committer{batch: fake, writer: fake, maxLeaders: 1}
	const callers = 40
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			if i%2 == 0 {
				run, created, err := c.insert(t.Context(), &state.RunInsertParams{Run: state.Run{ID: fmt.Sprint("new-", i)}})
				require.NoError(t, err)
				require.True(t, created)
				require.Equal(t, fmt.Sprint("new-", i), run.ID)
				return
			}
			v, _, err := c.commit(t.Context(), &state.RunUpdateParams{ID: fmt.Sprint("run-", i), ExpectedVersion: int64(i)}, nil, false)
			require.NoError(t, err)
			require.Equal(t, int64(i+1), v)
		})
	}
	wg.Wait()
	require.Less(t, fake.batches.Load(), int32(callers), "writes were grouped") // RunWriteMany counts there too
	require.Positive(t, fake.writes.Load(), "inserts went through RunWriteMany")
	require.Zero(t, c.leaders)
}

// sizedBatch records the size of every group commit.
type sizedBatch struct {
	mu    sync.Mutex
	sizes []int
}

func (b *sizedBatch) RunUpdateMany(_ context.Context, ps []*state.RunUpdateParams) ([]int64, []error) {
	b.mu.Lock()
	b.sizes = append(b.sizes, len(ps))
	b.mu.Unlock()
	versions := make([]int64, len(ps))
	for i, p := range ps {
		versions[i] = p.ExpectedVersion + 1
	}
	return versions, make([]error, len(ps))
}

// TestCommitterDelay: a busy committer (last group at least CommitSiblings)
// waits CommitDelay for more decisions; an idle one commits a lone
// decision at once.
func TestCommitterDelay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		last  int64
		sizes []int
	}{
		{"busy", 4, []int{4}},
		{"idle", 1, []int{1, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := &sizedBatch{}
			c := newCommitter(nil, 1, 300*time.Millisecond, 2, nil)
			c.batch = fake
			c.last.Store(tc.last)
			gate := make(chan struct{})
			if tc.name == "idle" {
				// Hold the lone decision's group until the others have
				// queued: had it waited, they would have joined it.
				c.batch = gatedBatch{fake, gate}
			}
			var wg sync.WaitGroup
			commit := func(i int) {
				wg.Go(func() {
					v, _, err := c.commit(t.Context(), &state.RunUpdateParams{ID: fmt.Sprint("run-", i), ExpectedVersion: int64(i)}, nil, false)
					require.NoError(t, err)
					require.Equal(t, int64(i+1), v)
				})
			}
			commit(0)
			require.Eventually(t, func() bool {
				c.mu.Lock()
				defer c.mu.Unlock()
				return c.leaders == 1
			}, time.Second, time.Millisecond)
			for i := 1; i <= 3; i++ {
				commit(i)
			}
			require.Eventually(t, func() bool {
				c.mu.Lock()
				defer c.mu.Unlock()
				return len(c.pending) == 3 || tc.name == "busy"
			}, time.Second, time.Millisecond)
			close(gate)
			wg.Wait()
			require.Equal(t, tc.sizes, fake.sizes)
		})
	}
}

// gatedBatch lets its first group through and holds the others until gate closes.
type gatedBatch struct {
	*sizedBatch
	gate chan struct{}
}

func (g gatedBatch) RunUpdateMany(ctx context.Context, ps []*state.RunUpdateParams) ([]int64, []error) {
	g.mu.Lock()
	first := len(g.sizes) == 0
	g.mu.Unlock()
	if first {
		<-g.gate
	}
	return g.sizedBatch.RunUpdateMany(ctx, ps)
}
