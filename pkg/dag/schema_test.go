package dag_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/dag"
)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(dag.JSONSchema()))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource("pipeline.schema.json", doc))
	sch, err := c.Compile("pipeline.schema.json")
	require.NoError(t, err)
	return sch
}

func validateAgainst(t *testing.T, sch *jsonschema.Schema, data []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	require.NoError(t, err)
	return sch.Validate(inst)
}

func TestSchemaDocsCopyIsIdentical(t *testing.T) {
	t.Parallel()
	docs, err := os.ReadFile(filepath.Join("..", "..", "docs", "pipeline.schema.json"))
	require.NoError(t, err)
	require.Equal(t, string(dag.JSONSchema()), string(docs),
		"docs/pipeline.schema.json must be a copy of pkg/dag/pipeline.schema.json")
	require.True(t, json.Valid(docs))
}

func TestSchemaAcceptsReferencePipelines(t *testing.T) {
	t.Parallel()
	sch := compileSchema(t)
	files, err := filepath.Glob(filepath.Join(referenceDir(t), "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			require.NoError(t, validateAgainst(t, sch, data))
		})
	}
}

// schemaDialects are valid documents in the dialects the loader accepts; the
// schema must accept each of them too.
var schemaDialects = map[string]string{
	"readme": `{"name": "r", "parameters": {"topic": "AI"},
		"steps": [{"name": "a", "class": "A", "module": "m", "inputs": [{"name": "x", "source": "{{ parameters.topic }}"}]},
		          {"name": "b", "class": "B", "module": "m"}],
		"flow": {"start_at": "a", "transitions": [{"from": "a", "to": "b", "condition": {"type": "field_equals", "field": "ok", "value": true}}]}}`,
	"graph": `{"name": "g", "steps": [{"id": "a", "step_class": "A"}, {"id": "b", "step_class": "B", "retry": {"max_attempts": 3}}],
		"flow": {"paths": [{"from_step": "a", "to_step": "b", "condition": "score > 3"}, {"from_step": "b", "to_step": "end", "else": true}]}}`,
	"router": `{"steps": [{"id": "r", "type": "condition", "conditions": [{"field": "status", "operator": "equals", "value": "x", "type": "value"}]},
		{"id": "h", "type": "human_input"}],
		"flow": {"start_at": "r", "paths": [{"from": "r", "to": "h", "condition": {"type": "all", "conditions": ["a", {"type": "success"}]}}]},
		"loop_config": {"max_iterations": 3, "on_max_iterations": "exit"}, "outputs": ["h"],
		"error_handling": {"retry": 2, "continue_on_error": true, "no_retry_on": ["E"]}}`,
}

func TestSchemaAcceptsDialects(t *testing.T) {
	t.Parallel()
	sch := compileSchema(t)
	for name, doc := range schemaDialects {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, probs := dag.Load(name, []byte(doc), nil)
			require.NoError(t, probs.Err(), "the sample itself must be valid")
			require.NoError(t, validateAgainst(t, sch, []byte(doc)))
		})
	}
}

func TestSchemaRejectsBrokenDocuments(t *testing.T) {
	t.Parallel()
	const ok = `{"id": "a", "step_class": "A"}`
	tests := []struct {
		name string
		doc  string
		// want is a fragment of the schema error (the failing keyword's location).
		want string
	}{
		{"top-level array", `[]`, "want object"},
		{"missing steps", `{"flow": {}}`, "missing property 'steps'"},
		{"steps not a list", `{"steps": {}, "flow": {}}`, "/steps"},
		{"config is a string", `{"steps": [{"id": "a", "step_class": "A", "config": "x"}], "flow": {}}`, "/steps/0/config"},
		{"version is an object", `{"version": {}, "steps": [` + ok + `], "flow": {}}`, "/version"},
		{"unknown step type", `{"steps": [{"id": "a", "type": "magic"}], "flow": {}}`, "/steps/0/type"},
		{"reserved step id", `{"steps": [{"id": "parameters", "step_class": "A"}], "flow": {}}`, "/steps/0"},
		{"task without class", `{"steps": [{"id": "a"}], "flow": {}}`, "/steps/0"},
		{"router without conditions", `{"steps": [{"id": "a", "type": "condition"}], "flow": {}}`, "/steps/0"},
		{"unknown condition type", `{"steps": [` + ok + `], "flow": {"paths": [{"from": "a", "to": "end", "condition": {"type": "vibes"}}]}}`, "/flow/paths/0/condition"},
		{"unknown operator", `{"steps": [` + ok + `], "flow": {"paths": [{"from": "a", "to": "end", "condition": {"type": "expression", "operator": "approx"}}]}}`, "/flow/paths/0/condition"},
		{"transition without to", `{"steps": [` + ok + `], "flow": {"paths": [{"from": "a"}]}}`, "/flow/paths/0"},
		{"bad on_max_iterations", `{"steps": [` + ok + `], "flow": {}, "loop_config": {"on_max_iterations": "explode"}}`, "/loop_config/on_max_iterations"},
		{"retry base below 1", `{"steps": [` + ok + `], "flow": {}, "error_handling": {"retry": {"exponential_base": 0.5}}}`, "/error_handling"},
	}
	sch := compileSchema(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := validateAgainst(t, sch, []byte(tt.doc))
			require.Error(t, err)
			require.Contains(t, strings.ReplaceAll(err.Error(), "\"", "'"), tt.want)
		})
	}
}

func TestSchemaReturnsCopy(t *testing.T) {
	t.Parallel()
	a := dag.JSONSchema()
	a[0] = 'x'
	require.Equal(t, byte('{'), dag.JSONSchema()[0])
}
