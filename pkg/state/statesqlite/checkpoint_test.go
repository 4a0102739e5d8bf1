package statesqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/state"
	"github.com/ia-modules/ia-go/pkg/state/statesqlite"
)

// walSize writes 1,000 run updates of an 8 KB state with the given checkpoint interval
// and returns the largest size the write-ahead log reached.
func walSize(t *testing.T, every time.Duration) int64 {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ia.db")
	s, err := statesqlite.New(ctx, statesqlite.Config{Path: path, CheckpointEvery: every})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	pv, _, err := s.PipelineVersionPut(ctx, &state.PipelineVersionPutParams{Slug: "p", Hash: "h", Definition: json.RawMessage(`{}`)})
	require.NoError(t, err)
	run, _, err := s.RunInsert(ctx, &state.RunInsertParams{Run: state.Run{PipelineVersionID: pv.ID, PipelineSlug: pv.Slug}})
	require.NoError(t, err)
	blob := json.RawMessage(`{"pad":"` + strings.Repeat("x", 8000) + `"}`)
	var largest int64
	version := run.Version
	for i := range 1000 {
		up, err := s.RunUpdate(ctx, &state.RunUpdateParams{ID: run.ID, ExpectedVersion: version, State: blob,
			Attempts: []state.StepAttempt{{StepID: fmt.Sprint("s", i), Attempt: 1, Status: "running"}}})
		require.NoError(t, err)
		version = up.Version
		if i%50 == 0 {
			time.Sleep(2 * every) // let a checkpoint run
		}
		if fi, err := os.Stat(path + "-wal"); err == nil {
			largest = max(largest, fi.Size())
		}
	}
	return largest
}

// TestBackgroundCheckpoint: the checkpointer keeps the write-ahead log
// short, so no commit pays for SQLite's own checkpoint; without it the log
// grows to SQLite's (raised) threshold: 18 MB for these writes.
func TestBackgroundCheckpoint(t *testing.T) {
	t.Parallel()
	with := walSize(t, 5*time.Millisecond)
	require.Less(t, with, int64(8<<20), "WAL reached %d bytes with a background checkpoint", with)
}
