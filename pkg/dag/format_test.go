package dag_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/dag"
)

// formatRoundTrip formats data twice and checks that the second pass
// changes nothing and that the canonical form loads like the original.
func formatRoundTrip(t *testing.T, name string, data []byte) []byte {
	t.Helper()
	p, probs := dag.Parse(name, data)
	require.NoError(t, probs.Err())
	once, err := dag.Format(p)
	require.NoError(t, err)

	p2, probs := dag.Parse(name, once)
	require.NoError(t, probs.Err(), "canonical form must parse:\n%s", once)
	twice, err := dag.Format(p2)
	require.NoError(t, err)
	require.Equal(t, string(once), string(twice), "Format is not idempotent")

	g1, probs1 := dag.Load(name, data, nil)
	g2, probs2 := dag.Load(name, once, nil)
	require.Equal(t, probs1.HasErrors(), probs2.HasErrors())
	if g1 != nil {
		require.NotNil(t, g2)
		require.Equal(t, g1.StepIDs(), g2.StepIDs())
		require.Len(t, g2.Pipeline.Edges, len(g1.Pipeline.Edges))
		require.Equal(t, len(g1.Loops()), len(g2.Loops()))
		for i := range g1.Pipeline.Edges {
			require.Equal(t, g1.EdgeCondition(i).String(), g2.EdgeCondition(i).String())
		}
	}
	return once
}

func TestFormatReferencePipelines(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(referenceDir(t), "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			formatRoundTrip(t, f, data)
		})
	}
}

func TestFormatDialects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
	}{
		{"readme dialect", `{"name": "r", "version": 2, "parameters": {"topic": "AI", "n": null},
			"steps": [{"name": "a", "class": "A", "module": "m", "inputs": {"z": "{{ parameters.topic }}", "a": 1}},
			          {"name": "b", "class": "B", "module": "m", "outputs": {"x": {"type": "string"}, "y": "str"}}],
			"flow": {"start_at": "a", "transitions": [{"from": "a", "to": "b", "condition": {"type": "field_equals", "field": "ok", "value": true}}]}}`},
		{"graph dialect", `{"steps": [{"id": "a", "step_class": "A", "outputs": ["x", {"name": "y", "required": true, "note": 1}]},
			{"id": "b", "step_class": "B"}],
			"flow": {"paths": [{"from_step": "a", "to_step": "b", "condition": "x > 3 && y < 2", "label": "hot"},
			                   {"from_step": "a", "to_step": "end", "else": true}], "x-layout": "lr"}}`},
		{"error handling everywhere", `{"steps": [
			{"id": "a", "step_class": "A",
			 "config": {"error_handling": {"retry": {"max_attempts": 2, "retry_on": ["T"]}, "no_retry_on": ["P"], "x": 1}},
			 "error_handling": {"retry_on": ["U"], "max_delay": 9, "y": 2},
			 "retry": {"initial_delay": 0.5, "jitter": false}},
			{"id": "b", "step_class": "B", "config": {"error_handling": {"max_retries": 2}}},
			{"id": "c", "step_class": "C", "retry": 4, "timeout_seconds": 1.5, "queue": "gpu"}],
			"flow": {"paths": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}]},
			"error_handling": {"max_attempts": 3, "backoff_multiplier": 3, "continue_on_error": true, "z": [1]}}`},
		{"loops, routers, outputs and extras", `{"name": "l", "description": "<&>", "x-owner": {"team": "ml"},
			"parameters": ["p", {"name": "q", "required": true, "schema": {"type": "number"}, "description": "d"}],
			"steps": [{"id": "w", "step_class": "W", "inputs": [{"name": "i", "value": "{q}", "schema": {"type": "number"}, "k": "v"}], "ui": true},
			          {"id": "r", "type": "condition", "conditions": [{"field": "s", "operator": "equals", "value": "x", "type": "value"}]},
			          {"id": "h", "type": "human_input", "config": {"prompt": "ok?"}}],
			"flow": {"start_at": "w", "paths": [{"from": "w", "to": "r"}, {"from": "r", "to": "w", "condition": "s != 'x'"},
			                                    {"from": "r", "to": "h", "condition": "else"}, {"from": "h", "to": "end_with_failure"}]},
			"loop_config": {"max_iterations": 5, "on_max_iterations": "exit", "iteration_delay_seconds": 0.25, "note": "n"},
			"outputs": {"z": "{{ h.ok }}", "a": "{steps.w.output.x}"}, "metadata": {"tags": ["x"], "b": {}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			formatRoundTrip(t, tt.name, []byte(tt.doc))
		})
	}
}

func TestFormatCanonicalForm(t *testing.T) {
	t.Parallel()
	doc := `{"x-b": 1, "x-a": 2, "metadata": {"k": "v"}, "outputs": {"out": "{{ b.y }}"},
		"flow": {"transitions": [{"to_step": "b", "from_step": "a", "condition": {"type": "expression",
			"config": {"source": "a.n", "operator": ">", "value": 1}}}, {"from": "b", "to": "end"}]},
		"steps": [{"step_class": "A", "id": "a", "type": "task", "config": {}, "inputs": {"n": "{{ parameters.n }}"}},
		          {"class": "B", "id": "b", "retry": {"max_attempts": 3}}],
		"parameters": {"n": 2}, "version": "1", "name": "canon"}`
	want := `{
  "name": "canon",
  "version": "1",
  "parameters": [
    {
      "name": "n",
      "default": 2
    }
  ],
  "steps": [
    {
      "id": "a",
      "step_class": "A",
      "inputs": [
        {
          "name": "n",
          "source": "{{ parameters.n }}"
        }
      ]
    },
    {
      "id": "b",
      "step_class": "B",
      "error_handling": {
        "retry": {
          "max_attempts": 3
        }
      }
    }
  ],
  "flow": {
    "start_at": "a",
    "paths": [
      {
        "from": "a",
        "to": "b",
        "condition": {
          "config": {
            "operator": ">",
            "source": "a.n",
            "value": 1
          },
          "type": "expression"
        }
      },
      {
        "from": "b",
        "to": "end"
      }
    ]
  },
  "outputs": {
    "out": "{{ b.y }}"
  },
  "metadata": {
    "k": "v"
  },
  "x-a": 2,
  "x-b": 1
}
`
	got := formatRoundTrip(t, "canon", []byte(doc))
	require.Equal(t, want, string(got))
}

func TestFormatNil(t *testing.T) {
	t.Parallel()
	_, err := dag.Format(nil)
	require.ErrorIs(t, err, dag.ErrInvalid)
}
