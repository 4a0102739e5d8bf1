package cli_test

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/internal/cli"
	"github.com/ia-modules/ia-go/internal/testenv"
)

// TestRunEmbedded runs the README's first command: the whole engine in one
// process (in-process NATS, SQLite, scheduler, worker).
func TestRunEmbedded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		args   []string
		python bool
		want   map[string]any
		code   int
	}{
		{"go steps, deep branch", []string{"run", "../../examples/pipelines/hello.json", "--input", `{"topic":"workflow engines"}`},
			false, map[string]any{"summary": "deep dive on workflow engines", "score": 1.6}, 0},
		{"go steps, else branch", []string{"run", "../../examples/pipelines/hello.json", "--input", `{"topic":"x"}`},
			false, map[string]any{"summary": "quick note on x", "score": 0.1}, 0},
		{"python steps through the shim", []string{"run", "../../examples/pipelines/python_demo.json", "--python-path", "../../examples/python", "--input", `{"name":"Ada"}`},
			true, map[string]any{"summary": "hello Ada, the answer is 42", "legacy_ran": true}, 0},
		{"missing required parameter", []string{"run", "../../examples/pipelines/hello.json"}, false, nil, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.python {
				if _, err := exec.LookPath("python3"); err != nil {
					if testenv.InCI() {
						t.Fatal("python3 is required under CI")
					}
					t.Skip("python3 not installed")
				}
			}
			args := append(tc.args, "--data-dir", filepath.Join(t.TempDir(), "data"))
			var out, errOut bytes.Buffer
			code := cli.Main(t.Context(), args, &out, &errOut)
			require.Equal(t, tc.code, code, "stderr: %s", errOut.String())
			if tc.want == nil {
				require.Contains(t, errOut.String(), `"topic"`)
				return
			}
			var res struct {
				Status string         `json:"status"`
				Output map[string]any `json:"output"`
			}
			require.NoError(t, json.Unmarshal(out.Bytes(), &res), out.String())
			require.Equal(t, "completed", res.Status)
			require.Equal(t, tc.want, res.Output)
			require.Contains(t, errOut.String(), "completed", "progress is shown on stderr")
		})
	}
}
