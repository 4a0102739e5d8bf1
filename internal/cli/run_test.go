package cli_test

import (
	"bytes"
	"encoding/json"
	"os"
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

// TestRunDecide answers a human task from --decide: the decision routes
// the run; without decisions the run ends waiting, and a decision that is
// not JSON is a usage error.
func TestRunDecide(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		decisions string // "": no --decide
		code      int
		status    string
		step      string // the branch that ran
	}{
		{"approve", `{"decision":"approve"}` + "\n", 0, "completed", "publish"},
		{"reject", `{"decision":"reject"}` + "\n", 0, "completed", "archive"},
		{"no decisions", "", 0, "waiting_for_human", ""},
		{"decisions run out", "\n", 0, "waiting_for_human", ""},
		{"not JSON", "yes please\n", 64, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := []string{"run", "../../examples/pipelines/review.json", "--input", `{"topic":"x"}`, "--data-dir", filepath.Join(dir, "data")}
			if tc.decisions != "" {
				file := filepath.Join(dir, "decisions")
				require.NoError(t, os.WriteFile(file, []byte(tc.decisions), 0o600))
				args = append(args, "--decide", file)
			}
			var out, errOut bytes.Buffer
			code := cli.Main(t.Context(), args, &out, &errOut)
			require.Equal(t, tc.code, code, "stderr: %s", errOut.String())
			if tc.code != 0 {
				require.Contains(t, errOut.String(), "not JSON")
				return
			}
			var res struct {
				Status string                    `json:"status"`
				Steps  map[string]map[string]any `json:"steps"`
			}
			require.NoError(t, json.Unmarshal(out.Bytes(), &res), out.String())
			require.Equal(t, tc.status, res.Status)
			if tc.step != "" {
				require.Equal(t, "succeeded", res.Steps[tc.step]["status"])
				require.Contains(t, errOut.String(), "Publish this draft?", "the prompt is shown")
			}
		})
	}
}
