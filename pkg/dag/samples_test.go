package dag_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/dag"
)

// referenceDir is where the IA Modules reference pipelines live; tests that
// need them skip when the folder is absent (it is not part of this repo).
func referenceDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("IA_REFERENCE_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "reference", "pipelines")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("reference pipelines not found at %s (set IA_REFERENCE_DIR to the folder holding them)", dir)
	}
	return dir
}

func TestReferencePipelinesLoad(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(referenceDir(t), "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			g, probs := dag.Load(f, data, nil)
			require.NoError(t, probs.Err())
			require.NotNil(t, g)
			for _, p := range probs {
				t.Log(p.String())
			}
		})
	}
}
