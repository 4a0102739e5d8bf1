package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/internal/cli"
)

func TestValidateClasses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "p.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"steps":[{"id":"a","step_class":"ech0"},{"id":"b","step_class":"X","module":"m"}],
		"flow":{"start_at":"a","paths":[{"from":"a","to":"b"}]}}`), 0o600))
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"validate", file}, 0, "ok (2 steps"},
		{[]string{"validate", "--classes", "builtin", file}, 2, `unknown step class "ech0" [step a]`},
		{[]string{"validate", "--classes", "builtin,ech0", file}, 0, "ok (2 steps"},
	} {
		var out, errOut bytes.Buffer
		code := cli.Main(t.Context(), tc.args, &out, &errOut)
		require.Equal(t, tc.code, code, "%v: %s%s", tc.args, out.String(), errOut.String())
		require.Contains(t, out.String(), tc.want)
		require.NotContains(t, out.String(), `step b`, "a step with a Python module needs no registered class")
	}
}
