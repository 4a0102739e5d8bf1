package statesqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/state"
	"github.com/ia-modules/ia-go/pkg/state/statesqlite"
	"github.com/ia-modules/ia-go/pkg/state/statetest"
)

func TestRunUpdateManyMemory(t *testing.T) {
	t.Parallel()
	statetest.ExerciseBatch(t, memStore)
}

func TestRunUpdateManyFile(t *testing.T) {
	t.Parallel()
	statetest.ExerciseBatch(t, func(t *testing.T) state.Store { return fileStore(t) })
}

// fileStore returns a store on a WAL database file in a temporary directory,
// the setup the benchmarks measure.
func fileStore(tb testing.TB) *statesqlite.Store {
	tb.Helper()
	s, err := statesqlite.New(context.Background(), statesqlite.Config{Path: filepath.Join(tb.TempDir(), "ia.db")})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkRunUpdate measures the hot path on a file database: one guarded
// run update with one attempt upsert and one outbox message per op, from
// parallel goroutines on distinct runs.
func BenchmarkRunUpdate(b *testing.B) {
	statetest.BenchRunUpdate(b, fileStore(b))
}

// BenchmarkRunUpdateMany measures group commit on a file database: batches
// of 1, 16 and 64 updates on distinct runs in one transaction each.
func BenchmarkRunUpdateMany(b *testing.B) {
	statetest.BenchRunUpdateMany(b, fileStore(b))
}

// BenchmarkChainCommits measures the store's share of an embedded chain
// step (see statetest.BenchChainCommits) on a database like `ia run`'s, with
// new runs in the decisions' group commit and, for comparison, on their own.
func BenchmarkChainCommits(b *testing.B) {
	open := func(b *testing.B) *statesqlite.Store {
		s, err := statesqlite.New(b.Context(), statesqlite.Config{Path: filepath.Join(b.TempDir(), "ia.db"), NoSync: true})
		require.NoError(b, err)
		b.Cleanup(func() { _ = s.Close() })
		return s
	}
	b.Run("grouped", func(b *testing.B) { statetest.BenchChainCommits(b, open(b)) })
	b.Run("inserts-alone", func(b *testing.B) {
		s := open(b)
		statetest.BenchChainCommits(b, struct {
			state.Store
			state.BatchUpdater
		}{s, s})
	})
}

func TestRunWriteManyFile(t *testing.T) {
	t.Parallel()
	statetest.ExerciseBatchWriter(t, func(t *testing.T) state.Store { return fileStore(t) })
}

func TestRunWriteManyMemory(t *testing.T) {
	t.Parallel()
	statetest.ExerciseBatchWriter(t, memStore)
}
