package dag_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/dag"
)

// brokenCase is one file of testdata/broken: a pipeline with exactly one
// mistake, and the problem Load must report for it.
type brokenCase struct {
	file string
	code string
	path string
	line int
	step string
	msg  string // fragment of Problem.Message
	// errors is how many errors the mistake causes (0 means 1).
	errors int
	// warning: the problem is a warning, and the pipeline still loads.
	warning bool
	// missingParam: the pipeline loads; NewRun without input must fail.
	missingParam bool
	// undetected: pkg/dag does not report this mistake yet; the row says
	// what it should report.
	undetected bool
	// mislocated: pkg/dag reports the mistake, but at a less precise path
	// or line than the row expects.
	mislocated string
}

var brokenCases = []brokenCase{
	{file: "01_invalid_json.json", code: "json_syntax", line: 6, msg: "looking for beginning of object key string"},
	{file: "02_trailing_data.json", code: "json_syntax", line: 6, msg: "unexpected data after the top-level JSON value"},
	{file: "03_top_level_array.json", code: "not_object", line: 1, msg: "the document is a list, not an object"},
	{file: "04_missing_steps.json", code: "missing_steps", path: "steps", line: 1, msg: "the pipeline has no steps"},
	{file: "05_steps_not_a_list.json", code: "wrong_type", path: "steps", line: 3, msg: "steps is an object, want a list"},
	{file: "06_step_not_an_object.json", code: "wrong_type", path: "steps[1]", line: 5, msg: "step is a string, want an object"},
	{file: "07_missing_step_id.json", code: "missing_id", path: "steps[1]", line: 5, msg: "step has no id"},
	{file: "08_duplicate_step_id.json", code: "duplicate_step", path: "steps[2].id", line: 6, step: "fetch", msg: `duplicate step id "fetch" (first defined at 4:5)`},
	{file: "09_reserved_step_id.json", code: "reserved_id", path: "steps[1].id", line: 5, step: "parameters", msg: `step id "parameters" is reserved`},
	{file: "10_step_id_with_dot.json", code: "bad_id", path: "steps[1].id", line: 5, step: "save.v2", msg: "contains characters templates cannot address"},
	{file: "11_missing_flow.json", code: "missing_flow", path: "flow", line: 1, msg: "the pipeline has no flow"},
	{file: "12_transition_from_unknown_step.json", code: "unknown_step", path: "flow.paths[1].from", line: 11, msg: `transition from unknown step "sav" (did you mean "save"?)`},
	{file: "13_transition_to_unknown_step.json", code: "unknown_step", path: "flow.paths[1].to", line: 11, step: "save", msg: `transition to unknown step "notify"`},
	// Nothing is reachable from an unknown start, so the step is also
	// reported unreachable.
	{file: "14_unknown_start_at.json", code: "unknown_start", path: "flow.start_at", line: 7, msg: `start_at names unknown step "fetc" (did you mean "fetch"?)`},
	{file: "15_unreachable_step.json", code: "unreachable", path: "steps[2]", line: 6, step: "orphan", msg: `step "orphan" is unreachable from start_at "fetch"`},
	{file: "16_loop_never_exits.json", code: "loop_never_exits", path: "flow.paths[1]", line: 11, step: "draft", msg: "loop loop_draft can never exit"},
	{file: "17_input_unknown_step.json", code: "unknown_step_reference", path: "steps[1].inputs[0].source", line: 9, step: "save", msg: `unknown step "fetcher" (did you mean "fetch"?)`},
	{file: "18_outputs_unknown_step.json", code: "unknown_step_reference", path: "outputs.url", line: 9, msg: `unknown step or root "publish"`},
	{file: "19_undeclared_parameter.json", code: "unknown_parameter", path: "steps[0].config.query", line: 10, step: "fetch", msg: `undeclared parameter "language"`},
	{file: "20_bad_template_syntax.json", code: "bad_template", path: "steps[1].inputs.doc", line: 8, step: "save", msg: `"fetch..doc": empty segment`},
	{file: "21_unknown_condition_type.json", code: "unknown_condition_type", path: "flow.paths[1].condition", line: 11, step: "save", msg: `unknown condition type: "sentiment_is_positive"`},
	{file: "22_unknown_operator.json", code: "unknown_operator", path: "flow.paths[1].condition", line: 14, step: "save", msg: `"roughly_equals"`},
	{file: "23_bad_expression_syntax.json", code: "bad_condition", path: "flow.paths[1].condition", line: 11, step: "save", msg: `expression "score.value >= (0.8"`},
	{file: "24_bad_regex.json", code: "bad_condition", path: "flow.paths[1].condition", line: 14, step: "save", msg: `regex "spam(["`},
	{file: "25_duplicate_parameter.json", code: "duplicate_parameter", path: "parameters[2]", line: 6, msg: `parameter "topic" is declared twice`},
	{file: "26_duplicate_input.json", code: "duplicate_input", path: "steps[1].inputs[1]", line: 10, step: "save", msg: `input "doc" is declared twice`},
	{file: "27_two_else_edges.json", code: "duplicate_else", path: "flow.paths[2].condition", line: 14, step: "score", msg: "more than one else transition"},
	{file: "28_router_without_conditions.json", code: "router_without_conditions", path: "steps[1]", line: 5, step: "route", msg: `router step "route" has no conditions`},
	{file: "29_unknown_step_type.json", code: "unknown_step_type", path: "steps[1].type", line: 5, step: "approve", msg: `unknown step type "approval"`},
	{file: "30_task_without_step_class.json", code: "missing_class", path: "steps[1]", line: 5, step: "save", msg: `step "save" names no step_class`},
	{file: "31_config_is_a_string.json", code: "wrong_type", path: "steps[0].config", line: 4, step: "fetch", msg: "config is a string, want an object"},
	{file: "32_version_is_an_object.json", code: "wrong_type", path: "version", line: 3, msg: "version is an object, want a string"},
	{file: "33_retry_max_delay_below_initial.json", code: "bad_value", path: "steps[0].error_handling.retry.max_delay", line: 8, step: "fetch", msg: "max_delay 2 is below initial_delay 10"},
	{file: "34_on_max_iterations_explode.json", code: "bad_value", path: "loop_config.on_max_iterations", line: 14, msg: `on_max_iterations is "explode"`},
	{file: "35_missing_required_parameter.json", missingParam: true, msg: `missing required parameter: ["topic"]`},
	{file: "36_empty_steps.json", code: "missing_steps", path: "steps", line: 3, msg: "the pipeline has no steps"},
	{file: "37_result_outside_condition.json", code: "bad_reference", path: "steps[1].inputs.doc", line: 5, step: "save", msg: "template uses result outside a condition"},
	{file: "38_transition_without_to.json", code: "missing_to", path: "flow.paths[0]", line: 8, msg: "transition has no to"},
	{file: "39_exponential_base_below_one.json", code: "bad_value", path: "error_handling.retry.exponential_base", line: 7, msg: "exponential_base 0.5 is below 1"},
	{file: "40_duplicate_json_key.json", code: "duplicate_key", path: "steps[1].inputs.doc", line: 10, step: "save", msg: `key "doc" appears twice`},
	{file: "41_condition_unknown_step.json", code: "unknown_step_reference", path: "flow.paths[0].condition", line: 10, step: "score", msg: `unknown step "scorer" (did you mean "score"?)`},
	{file: "42_transition_key_typo.json", code: "unknown_key", path: "flow.paths[0].conditon", line: 10, msg: `unknown key "conditon" (did you mean "condition"?)`, warning: true},
	{file: "43_negative_timeout.json", code: "bad_value", path: "steps[0].timeout_seconds", line: 4, step: "fetch", msg: "timeout_seconds is -5"},
}

func TestBrokenPipelines(t *testing.T) {
	t.Parallel()
	for _, tt := range brokenCases {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			if tt.undetected {
				t.Skip("pkg/dag does not detect this yet")
			}
			data, err := os.ReadFile(filepath.Join("testdata", "broken", tt.file))
			require.NoError(t, err)
			g, probs := dag.Load(tt.file, data, nil)

			if tt.missingParam {
				require.NoError(t, probs.Err())
				_, err := g.NewRun("broken", nil)
				require.ErrorIs(t, err, dag.ErrMissingParameter)
				require.ErrorContains(t, err, tt.msg)
				return
			}

			wantErrors := max(tt.errors, 1)
			if tt.warning {
				wantErrors = 0
			}
			require.Len(t, probs.Errors(), wantErrors, "one mistake, got: %v", probs)
			var got *dag.Problem
			for i := range probs {
				if probs[i].Code == tt.code {
					got = &probs[i]
					break
				}
			}
			require.NotNil(t, got, "no %s problem in %v", tt.code, probs)
			require.Contains(t, got.Message, tt.msg)
			require.Equal(t, tt.file, got.File)
			if tt.mislocated != "" {
				t.Skip(tt.mislocated)
			}
			require.Equal(t, tt.path, got.Path)
			require.Equal(t, tt.line, got.Line)
			require.Equal(t, tt.step, got.StepID)
			require.Positive(t, got.Col)
		})
	}
}

// Every file in testdata/broken must have a row, so none goes untested.
func TestBrokenPipelinesAllListed(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "broken", "*.json"))
	require.NoError(t, err)
	listed := map[string]bool{}
	for _, tt := range brokenCases {
		require.False(t, listed[tt.file], "%s is listed twice", tt.file)
		listed[tt.file] = true
	}
	for _, f := range files {
		require.True(t, listed[filepath.Base(f)], "%s has no row in brokenCases", f)
	}
	require.Len(t, files, len(brokenCases))
}
