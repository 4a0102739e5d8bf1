package statesqlite

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNoSync: a file database syncs at checkpoints (synchronous=NORMAL, 1)
// unless NoSync asks it never to (OFF, 0), on every connection.
func TestNoSync(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		noSync bool
		want   int
	}{
		{"synced", false, 1},
		{"no sync", true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := New(t.Context(), Config{Path: filepath.Join(t.TempDir(), "ia.db"), NoSync: tt.noSync})
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			var w, r int
			require.NoError(t, s.w.QueryRowContext(t.Context(), `PRAGMA synchronous`).Scan(&w))
			require.NoError(t, s.r.QueryRowContext(t.Context(), `PRAGMA synchronous`).Scan(&r))
			require.Equal(t, tt.want, w, "writer")
			require.Equal(t, tt.want, r, "readers")
		})
	}
}
