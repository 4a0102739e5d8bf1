package cli_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/internal/cli"
	"github.com/ia-modules/ia-go/pkg/dag"
)

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Main(t.Context(), args, &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// writeFile writes a pipeline into a fresh temp dir and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o640))
	return path
}

func referencePipelines(t *testing.T) []string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "reference", "pipelines")
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Skipf("reference pipelines not found in %s (they are not part of this repo)", dir)
	}
	return files
}

func brokenFile(name string) string {
	return filepath.Join("..", "..", "pkg", "dag", "testdata", "broken", name)
}

const simple = `{"name": "simple",
  "parameters": [{"name": "topic", "required": true}],
  "steps": [{"id": "fetch", "step_class": "Fetch", "config": {"q": "{{ parameters.topic }}"}},
            {"id": "save", "step_class": "Save"}],
  "flow": {"start_at": "fetch", "paths": [{"from": "fetch", "to": "save"}]}}`

// looping has a loop, a router, a human step and two end markers.
const looping = `{"name": "looping",
  "steps": [{"id": "draft", "step_class": "Draft"},
            {"id": "check", "type": "condition", "conditions": [{"field": "score", "operator": ">", "value": 0.5}]},
            {"id": "approve", "type": "human_input"},
            {"id": "my-step", "step_class": "Dash"}],
  "flow": {"start_at": "draft", "paths": [
    {"from": "draft", "to": "check"},
    {"from": "check", "to": "draft", "condition": "score < 0.5"},
    {"from": "check", "to": "approve", "condition": "else"},
    {"from": "approve", "to": "my-step", "condition": {"type": "expression", "config": {"source": "result.ok", "operator": "equals", "value": true}}},
    {"from": "approve", "to": "end_with_failure", "condition": "else"},
    {"from": "my-step", "to": "end"}]},
  "loop_config": {"max_iterations": 4}}`

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     func(t *testing.T) []string
		code     int
		contains []string
	}{
		{"ok", func(t *testing.T) []string { return []string{"validate", writeFile(t, "p.json", simple)} },
			cli.ExitOK, []string{"p.json: ok (2 steps, 1 transitions)"}},
		{"warnings are printed", func(t *testing.T) []string {
			return []string{"validate", writeFile(t, "w.json", strings.Replace(looping, `"loop_config": {"max_iterations": 4}`, `"x": 1`, 1))}
		}, cli.ExitOK, []string{"warning: loop loop_draft has no max_iterations", "w.json: ok (4 steps, 6 transitions)"}},
		{"broken", func(*testing.T) []string { return []string{"validate", brokenFile("08_duplicate_step_id.json")} },
			cli.ExitInvalid, []string{`08_duplicate_step_id.json:6:12: steps[2].id: error: duplicate step id "fetch" (first defined at 4:5) [step fetch]`}},
		{"one broken among good", func(t *testing.T) []string {
			return []string{"validate", writeFile(t, "p.json", simple), brokenFile("12_transition_from_unknown_step.json")}
		}, cli.ExitInvalid, []string{"p.json: ok", `did you mean "save"?`}},
		{"invalid json", func(*testing.T) []string { return []string{"validate", brokenFile("01_invalid_json.json")} },
			cli.ExitInvalid, []string{"01_invalid_json.json:6:33: error: not valid JSON"}},
		{"input satisfies parameters", func(t *testing.T) []string {
			return []string{"validate", "--input", `{"topic": "go"}`, writeFile(t, "p.json", simple)}
		}, cli.ExitOK, []string{"p.json: ok"}},
		{"input misses a required parameter", func(t *testing.T) []string {
			return []string{"validate", "--input", `{}`, writeFile(t, "p.json", simple)}
		}, cli.ExitInvalid, []string{`parameters: error: missing required parameter: ["topic"]`}},
		{"input from a file", func(t *testing.T) []string {
			return []string{"validate", "--input", "@" + writeFile(t, "in.json", `{"topic": "go"}`), writeFile(t, "p.json", simple)}
		}, cli.ExitOK, []string{"p.json: ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := run(t, tt.args(t)...)
			require.Equal(t, tt.code, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
			for _, want := range tt.contains {
				require.Contains(t, res.stdout, want)
			}
		})
	}
}

func TestValidateErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no files", []string{"validate"}, cli.ExitUsage, "requires at least 1 arg"},
		{"unreadable file", []string{"validate", "does-not-exist.json"}, cli.ExitFailure, "does-not-exist.json: open"},
		{"bad input", []string{"validate", "--input", "[1]", "x.json"}, cli.ExitUsage, "--input must be a JSON object"},
		{"unknown flag", []string{"validate", "--nope", "x.json"}, cli.ExitUsage, "unknown flag: --nope"},
		{"unknown command", []string{"valdate"}, cli.ExitUsage, `unknown command "valdate"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := run(t, tt.args...)
			require.Equal(t, tt.code, res.code)
			require.Contains(t, res.stderr, tt.stderr)
		})
	}
}

func TestValidateJSON(t *testing.T) {
	t.Parallel()
	good := writeFile(t, "p.json", simple)
	res := run(t, "validate", "--json", good, brokenFile("15_unreachable_step.json"))
	require.Equal(t, cli.ExitInvalid, res.code)
	var reports []struct {
		File        string       `json:"file"`
		OK          bool         `json:"ok"`
		Steps       int          `json:"steps"`
		Transitions int          `json:"transitions"`
		Problems    dag.Problems `json:"problems"`
	}
	require.NoError(t, json.Unmarshal([]byte(res.stdout), &reports))
	require.Len(t, reports, 2)
	require.True(t, reports[0].OK)
	require.Equal(t, 2, reports[0].Steps)
	require.Equal(t, 1, reports[0].Transitions)
	require.Empty(t, reports[0].Problems)
	require.False(t, reports[1].OK)
	require.Len(t, reports[1].Problems, 1)
	require.Equal(t, "unreachable", reports[1].Problems[0].Code)
	require.Equal(t, "orphan", reports[1].Problems[0].StepID)
	require.Equal(t, 6, reports[1].Problems[0].Line)
}

func TestValidateReferencePipelines(t *testing.T) {
	t.Parallel()
	files := referencePipelines(t)
	res := run(t, append([]string{"validate"}, files...)...)
	require.Equal(t, cli.ExitOK, res.code, res.stdout)
	for _, f := range files {
		require.Contains(t, res.stdout, f+": ok (")
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	// Dialect synonyms: class, from_step/to_step, transitions.
	doc := `{"steps": [{"id": "a", "class": "A"}, {"id": "b", "class": "B"}],
	         "flow": {"transitions": [{"from_step": "a", "to_step": "b", "condition": "a.x > 1"}]}, "name": "f"}`
	want := `{
  "name": "f",
  "steps": [
    {
      "id": "a",
      "step_class": "A"
    },
    {
      "id": "b",
      "step_class": "B"
    }
  ],
  "flow": {
    "start_at": "a",
    "paths": [
      {
        "from": "a",
        "to": "b",
        "condition": "a.x > 1"
      }
    ]
  }
}
`
	path := writeFile(t, "f.json", doc)
	res := run(t, "format", path)
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	require.Equal(t, want, res.stdout)
	unchanged, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, doc, string(unchanged), "format without -w must not touch the file")

	res = run(t, "format", "-w", path)
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	require.Equal(t, path+": formatted\n", res.stdout)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, want, string(got))
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o640), info.Mode().Perm())

	res = run(t, "format", "--write", path)
	require.Equal(t, cli.ExitOK, res.code)
	require.Empty(t, res.stdout, "an already canonical file is not rewritten")
}

func TestFormatErrors(t *testing.T) {
	t.Parallel()
	res := run(t, "format", brokenFile("01_invalid_json.json"))
	require.Equal(t, cli.ExitInvalid, res.code)
	require.Contains(t, res.stderr, "01_invalid_json.json:6:33: error: not valid JSON")
	require.Empty(t, res.stdout)

	// Graph problems are validate's business: format still formats.
	res = run(t, "format", brokenFile("15_unreachable_step.json"))
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	require.Contains(t, res.stdout, `"id": "orphan"`)

	res = run(t, "format", "missing.json")
	require.Equal(t, cli.ExitFailure, res.code)
}

func TestFormatReferencePipelinesIdempotent(t *testing.T) {
	t.Parallel()
	for _, f := range referencePipelines(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			once := run(t, "format", f)
			require.Equal(t, cli.ExitOK, once.code, once.stderr)
			path := writeFile(t, filepath.Base(f), once.stdout)
			twice := run(t, "format", path)
			require.Equal(t, once.stdout, twice.stdout)
			rewrite := run(t, "format", "-w", path)
			require.Empty(t, rewrite.stdout)
			require.Equal(t, cli.ExitOK, run(t, "validate", path).code)
		})
	}
}

func TestVisualizeMermaid(t *testing.T) {
	t.Parallel()
	res := run(t, "visualize", writeFile(t, "l.json", looping))
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	want := `flowchart TD
    draft["draft<br/>Draft"]
    check{"check<br/>router"}
    approve[/"approve<br/>human_input"/]
    n3["my-step<br/>Dash"]
    end_with_failure(("end_with_failure"))
    n5(("end"))
    draft --> check
    check -.->|"loop (max 4): score #lt; 0.5"| draft
    check -->|"else"| approve
    approve -->|"result.ok == true"| n3
    approve -->|"else"| end_with_failure
    n3 --> n5
`
	require.Equal(t, want, res.stdout)
}

func TestVisualizeDot(t *testing.T) {
	t.Parallel()
	res := run(t, "visualize", "--format", "dot", writeFile(t, "l.json", looping))
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	for _, want := range []string{
		"digraph pipeline {\n",
		`label="looping";`,
		`"check" [label="check\nrouter", shape=diamond];`,
		`"approve" [label="approve\nhuman_input", shape=parallelogram];`,
		`"end" [label="end", shape=doublecircle];`,
		`"check" -> "draft" [label="loop (max 4): score < 0.5", style=dotted];`,
		`"draft" -> "check";`,
		`"my-step" -> "end";`,
	} {
		require.Contains(t, res.stdout, want)
	}
}

func TestVisualizeReferencePipelines(t *testing.T) {
	t.Parallel()
	var loop string
	for _, f := range referencePipelines(t) {
		if filepath.Base(f) == "loop_pipeline.json" {
			loop = f
		}
	}
	if loop == "" {
		t.Skip("loop_pipeline.json not among the reference pipelines")
	}
	res := run(t, "visualize", loop)
	require.Equal(t, cli.ExitOK, res.code, res.stderr)
	require.Contains(t, res.stdout, "    draft_content --> review_content\n")
	require.Contains(t, res.stdout, `    review_content -.->|"loop (max 5): review_content.approved == false"| draft_content`)
	require.Contains(t, res.stdout, `    review_content -->|"review_content.approved == true"| publish_content`)
}

func TestVisualizeErrors(t *testing.T) {
	t.Parallel()
	res := run(t, "visualize", "--format", "svg", writeFile(t, "p.json", simple))
	require.Equal(t, cli.ExitUsage, res.code)
	require.Contains(t, res.stderr, `--format "svg"`)

	res = run(t, "visualize", brokenFile("16_loop_never_exits.json"))
	require.Equal(t, cli.ExitInvalid, res.code)
	require.Contains(t, res.stderr, "loop loop_draft can never exit")

	res = run(t, "visualize", "a.json", "b.json")
	require.Equal(t, cli.ExitUsage, res.code)
}

func TestSchema(t *testing.T) {
	t.Parallel()
	res := run(t, "schema")
	require.Equal(t, cli.ExitOK, res.code)
	require.Equal(t, string(dag.JSONSchema()), res.stdout)
	require.True(t, json.Valid([]byte(res.stdout)))
}

func TestRootHelp(t *testing.T) {
	t.Parallel()
	res := run(t)
	require.Equal(t, cli.ExitOK, res.code)
	for _, cmd := range []string{"validate", "format", "visualize", "schema"} {
		require.Contains(t, res.stdout, cmd)
	}
}

func TestExitError(t *testing.T) {
	t.Parallel()
	err := &cli.ExitError{Code: 3, Err: os.ErrNotExist}
	require.ErrorIs(t, err, os.ErrNotExist)
	require.Equal(t, "exit status 3", (&cli.ExitError{Code: 3}).Error())
}
