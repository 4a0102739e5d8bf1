package dag

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func conditionScope() MapScope {
	return MapScope{
		"parameters": map[string]any{
			"threshold": 0.8,
			"limit":     "{{ not resolved twice }}",
			"enabled":   true,
			"disabled":  false,
			"name":      "Alice",
			"prefix":    "Al",
			"pattern":   "A.i",
			"bad_re":    "(",
			"allowed":   []any{"approve", "escalate"},
		},
		"result": map[string]any{
			"decision":              "approve",
			"requires_human_review": true,
			"matched":               true,
			"score":                 json.Number("0.9"),
		},
		"review_content":  map[string]any{"approved": false, "quality_score": 0.85},
		"quality_score":   0.75,
		"counter":         5.0,
		"count_int":       5,
		"ratio":           "0.8",
		"title":           "Hello World",
		"tags":            []any{"go", "dag", 3.0},
		"meta":            map[string]any{"owner": "me"},
		"nothing":         nil,
		"should_continue": false,
		"code":            123.0,
		"my-step":         map[string]any{"v": "dash"},
	}
}

func mustCompile(t *testing.T, raw any, opts *ConditionOptions) *Condition {
	t.Helper()
	c, err := CompileCondition(raw, opts)
	require.NoError(t, err)
	return c
}

func expression(source, op string, value any) map[string]any {
	cfg := map[string]any{"source": source, "value": value}
	if op != "" {
		cfg["operator"] = op
	}
	return map[string]any{"type": "expression", "config": cfg}
}

func TestConditionOperators(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		raw  any
		want bool
	}{
		// equals / ==
		{"equals true", expression("review_content.approved", "equals", false), true},
		{"equals false", expression("review_content.approved", "equals", true), false},
		{"equals default operator", expression("result.decision", "", "approve"), true},
		{"equals symbol", expression("counter", "==", 5.0), true},
		{"equals int vs float", expression("count_int", "==", 5.0), true},
		{"equals json.Number", expression("result.score", "==", 0.9), true},
		{"equals bool is not number", expression("parameters.enabled", "equals", 1.0), false},
		{"equals string is not number", expression("ratio", "equals", 0.8), false},
		{"equals missing vs null", expression("nope.x", "equals", nil), true},
		{"equals present null", expression("nothing", "equals", nil), true},
		{"equals object", expression("meta", "equals", map[string]any{"owner": "me"}), true},
		{"equals array", expression("tags", "equals", []any{"go", "dag", 3}), true},
		// not_equals / !=
		{"not_equals true", expression("result.decision", "not_equals", "reject"), true},
		{"not_equals false", expression("result.decision", "!=", "approve"), false},
		{"not_equals type mismatch", expression("counter", "not_equals", "5"), true},
		// ordering
		{"greater_than true", expression("counter", "greater_than", 4.0), true},
		{"greater_than false", expression("counter", ">", 5.0), false},
		{"less_than true", expression("quality_score", "less_than", 0.8), true},
		{"less_than false", expression("quality_score", "<", 0.7), false},
		{"gte equal", expression("counter", "greater_than_or_equal", 5.0), true},
		{"gte false", expression("counter", ">=", 6.0), false},
		{"lte equal", expression("counter", "less_than_or_equal", 5.0), true},
		{"lte false", expression("counter", "<=", 4.0), false},
		{"numeric string converts", expression("ratio", ">=", 0.8), true},
		{"numeric string value converts", expression("counter", ">", "4.5"), true},
		{"json.Number orders", expression("result.score", ">", 0.85), true},
		{"strings order", expression("title", ">", "Apple"), true},
		{"ordering mismatch", expression("title", ">", 1.0), false},
		{"ordering mismatch reversed", expression("title", "<", 1.0), false},
		{"ordering null", expression("nothing", "<", 1.0), false},
		{"ordering missing", expression("nope", ">", 1.0), false},
		{"ordering bool", expression("parameters.enabled", ">", false), false},
		// equals_ignore_case
		{"equals_ignore_case true", expression("title", "equals_ignore_case", "hello world"), true},
		{"equals_ignore_case false", expression("title", "equals_ignore_case", "hello"), false},
		{"equals_ignore_case numbers", expression("counter", "equals_ignore_case", 5.0), true},
		// contains: value in actual
		{"contains substring", expression("title", "contains", "World"), true},
		{"contains substring false", expression("title", "contains", "world"), false},
		{"contains element", expression("tags", "contains", "dag"), true},
		{"contains number element", expression("tags", "contains", 3.0), true},
		{"contains element false", expression("tags", "contains", "rust"), false},
		{"contains key", expression("meta", "contains", "owner"), true},
		{"contains key false", expression("meta", "contains", "x"), false},
		{"contains mismatch", expression("counter", "contains", "5"), false},
		{"contains number in string", expression("title", "contains", 1.0), false},
		// in / not_in: actual in value
		{"in list", expression("result.decision", "in", []any{"approve", "escalate"}), true},
		{"in list false", expression("result.decision", "in", []any{"reject"}), false},
		{"in string", expression("result.decision", "in", "approve_all"), true},
		{"in mismatch", expression("result.decision", "in", 3.0), false},
		{"not_in true", expression("result.decision", "not_in", []any{"reject"}), true},
		{"not_in false", expression("result.decision", "not_in", []any{"approve"}), false},
		{"not_in mismatch", expression("result.decision", "not_in", 3.0), false},
		// startswith / endswith
		{"startswith true", expression("title", "startswith", "Hello"), true},
		{"startswith false", expression("title", "startswith", "World"), false},
		{"startswith number", expression("code", "startswith", "12"), true},
		{"startswith null", expression("nothing", "startswith", ""), false},
		{"endswith true", expression("title", "endswith", "World"), true},
		{"endswith false", expression("title", "endswith", "Hello"), false},
		{"endswith object", expression("meta", "endswith", "}"), false},
		// regex, anchored at the start only
		{"regex true", expression("title", "regex", "Hel+o"), true},
		{"regex anchored", expression("title", "regex", "World"), false},
		{"regex prefix only", expression("title", "regex", "Hello"), true},
		{"regex alternation stays anchored", expression("title", "regex", "x|World"), false},
		{"regex number", expression("code", "regex", `\d{3}`), true},
		{"regex null", expression("nothing", "regex", ".*"), false},
		// template values
		{"template value whole", expression("quality_score", "<", "{{ parameters.threshold }}"), true},
		{"template value single brace", expression("review_content.quality_score", ">=", "{parameters.threshold}"), true},
		{"template value missing", expression("quality_score", "<", "{{ parameters.nope }}"), false},
		{"template value in list", expression("result.decision", "in", "{{ parameters.allowed }}"), true},
		{"template inside list", expression("result.decision", "in", []any{"x", "{parameters.name}", "approve"}), true},
		{"template embedded", expression("title", "equals", "Hello {{ parameters.missing_x }}"), false},
		{"template regex", expression("parameters.name", "regex", "{{ parameters.pattern }}"), true},
		{"template bad regex", expression("parameters.name", "regex", "{{ parameters.bad_re }}"), false},
		{"template startswith", expression("parameters.name", "startswith", "{parameters.prefix}"), true},
		// source written as a template
		{"source as template", expression("{{ review_content.approved }}", "==", false), true},
		// result. prefix is the scope's business
		{"result field", expression("result.requires_human_review", "equals", true), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := mustCompile(t, tt.raw, nil)
			require.Equal(t, "expression", c.Kind())
			require.Equal(t, tt.want, c.Eval(conditionScope()))
		})
	}
}

func TestConditionKinds(t *testing.T) {
	t.Parallel()

	isTrue := func(s Scope, p map[string]any) (bool, error) { return Truthy(p["x"]), nil }
	failing := func(Scope, map[string]any) (bool, error) { return true, errors.New("boom") }
	panicking := func(Scope, map[string]any) (bool, error) { panic("boom") }
	opts := &ConditionOptions{Functions: Functions{"is_true": isTrue, "failing": failing, "panicking": panicking}}

	tests := []struct {
		name  string
		raw   any
		kind  string
		want  bool
		label string
	}{
		{"nil", nil, "always", true, "always"},
		{"empty object", map[string]any{}, "always", true, "always"},
		{"description only", map[string]any{"description": "go on"}, "always", true, "always"},
		{"null type", map[string]any{"type": nil}, "always", true, "always"},
		{"always string", "always", "always", true, "always"},
		{"empty string", "", "always", true, "always"},
		{"always object", map[string]any{"type": "always"}, "always", true, "always"},
		{"else string", "else", "else", false, "else"},
		{"else capitalised", " Else ", "else", false, "else"},
		{"else object", map[string]any{"type": "else", "description": "done"}, "else", false, "else"},

		{"parameter string true", "parameter:enabled", "parameter", true, "parameter:enabled"},
		{"parameter string false", "parameter:disabled", "parameter", false, "parameter:disabled"},
		{"parameter string missing", "parameter:nope", "parameter", false, "parameter:nope"},
		{"parameter object", map[string]any{"type": "parameter", "config": map[string]any{"parameter": "enabled"}}, "parameter", true, "parameter:enabled"},
		{"parameter object false", map[string]any{"type": "parameter", "config": map[string]any{"parameter": "name.x"}}, "parameter", false, "parameter:name.x"},

		{"threshold >= true", map[string]any{"type": "threshold_condition", "config": map[string]any{"field": "review_content.quality_score", "operator": ">=", "value": "{{ parameters.threshold }}"}}, "threshold", true, "review_content.quality_score >= {{ parameters.threshold }}"},
		{"threshold < false", map[string]any{"type": "threshold_condition", "config": map[string]any{"field": "review_content.quality_score", "operator": "<", "value": "{{ parameters.threshold }}"}}, "threshold", false, "review_content.quality_score < {{ parameters.threshold }}"},
		{"threshold field_path threshold", map[string]any{"type": "threshold_condition", "config": map[string]any{"field_path": "quality_score", "operator": "less_than", "threshold": 0.8}}, "threshold", true, "quality_score < 0.8"},
		{"threshold default operator", map[string]any{"type": "threshold", "config": map[string]any{"field": "counter", "threshold": 5}}, "threshold", true, "counter >= 5"},
		{"threshold mismatch", map[string]any{"type": "threshold_condition", "config": map[string]any{"field": "title", "value": 1}}, "threshold", false, "title >= 1"},

		{"field_equals top level", map[string]any{"type": "field_equals", "field": "should_continue", "value": false}, "field_equals", true, "should_continue == false"},
		{"field_equals false", map[string]any{"type": "field_equals", "field": "should_continue", "value": true}, "field_equals", false, "should_continue == true"},
		{"field_equals config", map[string]any{"type": "field_equals", "config": map[string]any{"field": "result.decision", "value": "approve"}}, "field_equals", true, `result.decision == "approve"`},
		{"field_exists", map[string]any{"type": "field_exists", "field": "meta.owner"}, "field_exists", true, "exists(meta.owner)"},
		{"field_exists missing", map[string]any{"type": "field_exists", "config": map[string]any{"field": "meta.x"}}, "field_exists", false, "exists(meta.x)"},
		{"field_exists null", map[string]any{"type": "field_exists", "field": "nothing"}, "field_exists", false, "exists(nothing)"},
		{"field_greater_than", map[string]any{"type": "field_greater_than", "field": "counter", "value": 1}, "field_greater_than", true, "counter > 1"},
		{"field_greater_than false", map[string]any{"type": "field_greater_than", "field": "counter", "value": 10}, "field_greater_than", false, "counter > 10"},
		{"field_greater_than mismatch", map[string]any{"type": "field_greater_than", "field": "meta", "value": 1}, "field_greater_than", false, "meta > 1"},
		{"field_less_than", map[string]any{"type": "field_less_than", "config": map[string]any{"field": "counter", "value": "{parameters.threshold}"}}, "field_less_than", false, "counter < {parameters.threshold}"},
		{"field_less_than true", map[string]any{"type": "field_less_than", "field": "quality_score", "value": 1}, "field_less_than", true, "quality_score < 1"},

		{"expr", "review_content.quality_score >= parameters.threshold", "expr", true, "review_content.quality_score >= parameters.threshold"},
		{"expr false", "result.decision == 'reject'", "expr", false, "result.decision == 'reject'"},
		{"expr json.Number", "result.score > 0.85 && counter == 5", "expr", true, "result.score > 0.85 && counter == 5"},
		{"expr builtin", "len(tags) == 3 and 'go' in tags", "expr", true, "len(tags) == 3 and 'go' in tags"},
		{"expr missing name", "nope == nil", "expr", true, "nope == nil"},
		{"expr runtime error", "nope.x.y > 1", "expr", false, "nope.x.y > 1"},
		{"expr type error", "title > 1", "expr", false, "title > 1"},
		{"expr non-bool at runtime", "meta.owner", "expr", false, "meta.owner"},
		{"expr let", "let s = counter * 2; s == 10", "expr", true, "let s = counter * 2; s == 10"},
		{"expr $env", `$env["my-step"].v == 'dash' && $env.counter == 5`, "expr", true, `$env["my-step"].v == 'dash' && $env.counter == 5`},
		{"expr object", map[string]any{"type": "expr", "config": map[string]any{"expression": "counter > 1"}}, "expr", true, "counter > 1"},

		{"router matched", map[string]any{"type": "condition", "description": "Continue refining"}, "router", true, "Continue refining"},
		{"success", map[string]any{"type": "success"}, "success", true, "success"},

		{"function", map[string]any{"type": "function", "config": map[string]any{"function_name": "is_true", "parameters": map[string]any{"x": true}}}, "function", true, "is_true()"},
		{"function template param", map[string]any{"type": "function", "config": map[string]any{"name": "is_true", "parameters": map[string]any{"x": "{{ parameters.disabled }}"}}}, "function", false, "is_true()"},
		{"function no params", map[string]any{"type": "function", "config": map[string]any{"name": "is_true"}}, "function", false, "is_true()"},
		{"function error", map[string]any{"type": "function", "config": map[string]any{"name": "failing"}}, "function", false, "failing()"},
		{"function panic", map[string]any{"type": "function", "config": map[string]any{"name": "panicking"}}, "function", false, "panicking()"},

		{"all true", map[string]any{"type": "all", "conditions": []any{"parameter:enabled", expression("counter", ">", 1)}}, "all", true, "parameter:enabled && counter > 1"},
		{"all false", map[string]any{"type": "all", "conditions": []any{"parameter:enabled", "parameter:disabled"}}, "all", false, "parameter:enabled && parameter:disabled"},
		{"all empty", map[string]any{"type": "all", "conditions": []any{}}, "all", true, "true"},
		{"any true", map[string]any{"type": "any", "config": map[string]any{"conditions": []any{"parameter:disabled", "always"}}}, "any", true, "parameter:disabled || always"},
		{"any false", map[string]any{"type": "any", "conditions": []any{"parameter:disabled", "counter > 100"}}, "any", false, "parameter:disabled || counter > 100"},
		{"any empty", map[string]any{"type": "any", "conditions": []any{}}, "any", false, "false"},
		{"nested groups", map[string]any{"type": "any", "conditions": []any{map[string]any{"type": "all", "conditions": []any{"always", "parameter:disabled"}}, "parameter:enabled"}}, "any", true, "(always && parameter:disabled) || parameter:enabled"},
		{"not", map[string]any{"type": "not", "condition": "parameter:disabled"}, "not", true, "!(parameter:disabled)"},
		{"not false", map[string]any{"type": "not", "config": map[string]any{"condition": map[string]any{"type": "always"}}}, "not", false, "!(always)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := mustCompile(t, tt.raw, opts)
			require.Equal(t, tt.kind, c.Kind())
			require.Equal(t, tt.want, c.Eval(conditionScope()))
			require.Equal(t, tt.label, c.String())
			require.Equal(t, tt.kind == "else", c.IsElse())
		})
	}
}

func TestConditionResultForms(t *testing.T) {
	t.Parallel()

	success := mustCompile(t, map[string]any{"type": "success"}, nil)
	router := mustCompile(t, map[string]any{"type": "condition"}, nil)
	tests := []struct {
		name    string
		result  any
		success bool
		router  bool
	}{
		{"plain output", map[string]any{"x": 1.0}, true, false},
		{"step error", map[string]any{"step_error": true}, false, false},
		{"step error false", map[string]any{"step_error": false, "matched": true}, true, true},
		{"matched", map[string]any{"matched": true}, true, true},
		{"not matched", map[string]any{"matched": false}, true, false},
		{"no result", nil, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			scope := MapScope{}
			if tt.result != nil {
				scope["result"] = tt.result
			}
			require.Equal(t, tt.success, success.Eval(scope))
			require.Equal(t, tt.router, router.Eval(scope))
		})
	}
}

func TestConditionCompileErrors(t *testing.T) {
	t.Parallel()

	opts := &ConditionOptions{Functions: Functions{"f": func(Scope, map[string]any) (bool, error) { return true, nil }}}
	tests := []struct {
		name    string
		raw     any
		opts    *ConditionOptions
		wantErr error
		detail  string
	}{
		{"unknown type", map[string]any{"type": "agent"}, nil, ErrUnknownConditionType, `"agent"`},
		{"type not string", map[string]any{"type": 3.0}, nil, ErrBadCondition, "type"},
		{"raw number", 3.0, nil, ErrBadCondition, "number"},
		{"raw array", []any{}, nil, ErrBadCondition, "array"},
		{"config not object", map[string]any{"type": "expression", "config": "x"}, nil, ErrBadCondition, "config"},
		{"unknown operator", expression("a", "approximately", 1.0), nil, ErrUnknownOperator, `"approximately"`},
		{"operator not string", expression("a", "", nil), nil, nil, ""},
		{"threshold unknown operator", map[string]any{"type": "threshold_condition", "config": map[string]any{"field": "a", "operator": "=>", "value": 1.0}}, nil, ErrUnknownOperator, `"=>"`},
		{"threshold without value", map[string]any{"type": "threshold_condition", "config": map[string]any{"field": "a"}}, nil, ErrBadCondition, "value"},
		{"threshold without field", map[string]any{"type": "threshold_condition", "config": map[string]any{"value": 1.0}}, nil, ErrBadCondition, "field"},
		{"expression without source", map[string]any{"type": "expression", "config": map[string]any{"value": 1.0}}, nil, ErrBadCondition, "source"},
		{"expression bad source", expression("a..b", "==", 1.0), nil, ErrBadCondition, "a..b"},
		{"expression source not string", map[string]any{"type": "expression", "config": map[string]any{"source": 1.0}}, nil, ErrBadCondition, "source"},
		{"bad regex", expression("a", "regex", "("), nil, ErrBadCondition, "regex"},
		{"regex not string", expression("a", "regex", 1.0), nil, ErrBadCondition, "regex"},
		{"bad value template", expression("a", "==", "{{ a..b }}"), nil, ErrBadCondition, "a..b"},
		{"bad expr", "counter >=", nil, ErrBadCondition, "counter >="},
		{"expr not bool", "1 + 2", nil, ErrBadCondition, "1 + 2"},
		{"expr unknown function", "nope(1)", nil, ErrBadCondition, "nope"},
		{"expr too long", strings.Repeat("(", 1<<20) + "true", nil, ErrBadCondition, "longer than"},
		{"parameter empty", "parameter:", nil, ErrBadCondition, "parameter"},
		{"parameter object without name", map[string]any{"type": "parameter"}, nil, ErrBadCondition, "parameter"},
		{"field_equals without value", map[string]any{"type": "field_equals", "field": "a"}, nil, ErrBadCondition, "value"},
		{"field_exists without field", map[string]any{"type": "field_exists"}, nil, ErrBadCondition, "field"},
		{"function unregistered", map[string]any{"type": "function", "config": map[string]any{"function_name": "g"}}, opts, ErrBadCondition, `"g" not registered`},
		{"function unregistered no functions", map[string]any{"type": "function", "config": map[string]any{"function_name": "g"}}, &ConditionOptions{}, ErrBadCondition, `"g"`},
		{"function without name", map[string]any{"type": "function"}, opts, ErrBadCondition, "function_name"},
		{"function bad params", map[string]any{"type": "function", "config": map[string]any{"name": "f", "parameters": []any{}}}, opts, ErrBadCondition, "parameters"},
		{"all without list", map[string]any{"type": "all"}, nil, ErrBadCondition, "conditions"},
		{"all bad child", map[string]any{"type": "all", "conditions": []any{map[string]any{"type": "nope"}}}, nil, ErrUnknownConditionType, "all.conditions[0]"},
		{"else nested", map[string]any{"type": "not", "condition": "else"}, nil, ErrBadCondition, "else"},
		{"not without condition", map[string]any{"type": "not"}, nil, ErrBadCondition, "condition"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := CompileCondition(tt.raw, tt.opts)
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			require.ErrorContains(t, err, tt.detail)
		})
	}
}

func TestConditionDeepExpr(t *testing.T) {
	t.Parallel()

	// The longest accepted expression nests without exhausting the stack.
	n := (maxExprLen - len("true")) / 2
	c := mustCompile(t, strings.Repeat("(", n)+"true"+strings.Repeat(")", n), nil)
	require.True(t, c.Eval(nil))
	_, err := CompileCondition(strings.Repeat("!", maxExprLen-len("true"))+"true", nil)
	require.NoError(t, err)
}

func TestConditionFunctionWithoutOptions(t *testing.T) {
	t.Parallel()

	c := mustCompile(t, map[string]any{"type": "function", "config": map[string]any{"function_name": "anything"}}, nil)
	require.Equal(t, "function", c.Kind())
	require.False(t, c.Eval(conditionScope()))
}

func TestConditionRefs(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		raw  any
		want [][]string
	}{
		{"always", nil, nil},
		{"expression", expression("review_content.approved", "==", false), [][]string{{"review_content", "approved"}}},
		{"template value", map[string]any{"type": "threshold_condition", "config": map[string]any{"field": "q", "value": "{{ parameters.threshold }}"}}, [][]string{{"q"}, {"parameters", "threshold"}}},
		{"parameter", "parameter:my_param", [][]string{{"parameters", "my_param"}}},
		{"success", map[string]any{"type": "success"}, [][]string{{"result", "step_error"}}},
		{"router", map[string]any{"type": "condition"}, [][]string{{"result", "matched"}}},
		{"expr", "review.score >= parameters.threshold && len(items[0].tags) > 0 && x?.y", [][]string{{"review", "score"}, {"parameters", "threshold"}, {"items", "0", "tags"}, {"x", "y"}}},
		{"expr dynamic member", "a[b] == 1", [][]string{{"a"}, {"b"}}},
		{"expr let", "let v = a.b; v > 1", [][]string{{"a", "b"}}},
		{"expr $env", `$env["my-step"].x > 1`, [][]string{{"my-step", "x"}}},
		{"expr predicate", "all(items, .ok) and any(items, # > threshold)", [][]string{{"items"}, {"threshold"}}},
		{"group", map[string]any{"type": "all", "conditions": []any{"parameter:a", map[string]any{"type": "not", "condition": "b.c == 1"}}}, [][]string{{"parameters", "a"}, {"b", "c"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := mustCompile(t, tt.raw, nil)
			require.ElementsMatch(t, tt.want, c.Refs())
		})
	}
}

// countingScope counts lookups, to check that an expression reads only the
// names it uses.
type countingScope struct {
	MapScope
	mu      sync.Mutex
	lookups [][]string
}

func (c *countingScope) Lookup(path []string) (any, bool) {
	c.mu.Lock()
	c.lookups = append(c.lookups, path)
	c.mu.Unlock()
	return c.MapScope.Lookup(path)
}

func TestConditionExprLooksUpOnlyItsNames(t *testing.T) {
	t.Parallel()

	c := mustCompile(t, "counter > 1 && len(tags) > 0 && meta.owner == 'me'", nil)
	scope := &countingScope{MapScope: conditionScope()}
	require.True(t, c.Eval(scope))
	require.ElementsMatch(t, [][]string{{"counter"}, {"tags"}, {"meta"}}, scope.lookups)
}

func TestConditionNilAndConcurrent(t *testing.T) {
	t.Parallel()

	var nilCond *Condition
	require.True(t, nilCond.Eval(nil))
	require.Equal(t, "always", nilCond.Kind())
	require.Equal(t, "always", nilCond.String())
	require.False(t, nilCond.IsElse())
	require.Nil(t, nilCond.Refs())

	c := mustCompile(t, map[string]any{"type": "all", "conditions": []any{
		"result.score > 0.5",
		expression("title", "regex", "{{ parameters.pattern }}"),
		expression("quality_score", "<", "{parameters.threshold}"),
	}}, nil)
	require.False(t, c.Eval(nil))
	scope := conditionScope()
	scope["title"] = "Alice"
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { require.True(t, c.Eval(scope)) })
	}
	wg.Wait()
}

func TestConditionShippedPipelines(t *testing.T) {
	t.Parallel()

	// Conditions exactly as written in the reference pipelines.
	raws := []string{
		`{"type": "always"}`,
		`{"type": "threshold_condition", "config": {"field": "quality_score", "operator": ">=", "value": "{{ parameters.threshold }}"}}`,
		`{"type": "expression", "config": {"source": "review_content.approved", "operator": "equals", "value": false}}`,
		`{"type": "expression", "config": {"source": "result.decision", "operator": "equals", "value": "request_enhancement"}}`,
		`{"type": "field_equals", "field": "should_continue", "value": true}`,
		`{"type": "success"}`,
		`{"type": "condition", "description": "Continue refining"}`,
		`{"type": "else", "description": "Refinement complete"}`,
		`"parameter:my_param"`,
		`{"type": "parameter", "config": {"parameter": "my_param"}}`,
	}
	for _, raw := range raws {
		var v any
		require.NoError(t, json.Unmarshal([]byte(raw), &v))
		_, err := CompileCondition(v, &ConditionOptions{})
		require.NoError(t, err, raw)
	}
}

func TestValueEqual(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		a, b any
		want bool
	}{
		{"nil nil", nil, nil, true},
		{"nil false", nil, false, false},
		{"nil zero", nil, 0.0, false},
		{"true vs 1", true, 1.0, false},
		{"1 vs true", 1, true, false},
		{"int float", 5, 5.0, true},
		{"int64 float", int64(5), 5.0, true},
		{"json.Number float", json.Number("5.0"), 5, true},
		{"json.Number int", json.Number("5"), int64(5), true},
		{"uint int", uint8(5), 5, true},
		{"float32", float32(0.5), 0.5, true},
		{"numbers differ", 5.0, 5.5, false},
		{"big ints exact", int64(9007199254740993), int64(9007199254740992), false},
		{"number vs string", 5.0, "5", false},
		{"bad json.Number vs number", json.Number("x"), 1.0, false},
		{"bad json.Number same text", json.Number("x"), json.Number("x"), true},
		{"strings", "a", "a", true},
		{"strings differ", "a", "A", false},
		{"bools", false, false, true},
		{"maps", map[string]any{"a": 1.0, "b": []any{true}}, map[string]any{"b": []any{true}, "a": 1}, true},
		{"maps differ", map[string]any{"a": 1.0}, map[string]any{"a": 2.0}, false},
		{"maps missing key", map[string]any{"a": nil}, map[string]any{"b": nil}, false},
		{"maps size", map[string]any{"a": 1.0}, map[string]any{}, false},
		{"slices", []any{1.0, "x"}, []any{1, "x"}, true},
		{"slices order", []any{1.0, "x"}, []any{"x", 1.0}, false},
		{"map vs slice", map[string]any{}, []any{}, false},
		{"other types", []string{"a"}, []string{"a"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, Equal(tt.a, tt.b))
			require.Equal(t, tt.want, Equal(tt.b, tt.a), "symmetric")
		})
	}
}

func TestValueCompare(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		a, b   any
		want   int
		wantOK bool
	}{
		{"less", 1.0, 2, -1, true},
		{"equal", 2, 2.0, 0, true},
		{"greater", json.Number("3"), 2.5, 1, true},
		{"numeric string left", "0.8", 0.7, 1, true},
		{"numeric string right", 0.8, " 0.9 ", -1, true},
		{"numeric string exponent", "1e2", 100, 0, true},
		{"non-numeric string", "abc", 1.0, 0, false},
		{"string nan", "NaN", 1.0, 0, false},
		{"string hex", "0x10", 16.0, 0, false},
		{"strings", "apple", "banana", -1, true},
		{"strings equal", "b", "b", 0, true},
		{"two numeric strings stay strings", "10", "9", -1, true},
		{"bools", true, false, 0, false},
		{"nil", nil, 1.0, 0, false},
		{"nil nil", nil, nil, 0, false},
		{"map", map[string]any{}, 1.0, 0, false},
		{"bool number", true, 1.0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := Compare(tt.a, tt.b)
			require.Equal(t, tt.wantOK, ok)
			require.Equal(t, tt.want, got)
			if ok {
				back, _ := Compare(tt.b, tt.a)
				require.Equal(t, -tt.want, back, "antisymmetric")
			}
		})
	}
}

func TestValueTruthy(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		v    any
		want bool
	}{
		{"nil", nil, false},
		{"false", false, false},
		{"true", true, true},
		{"zero", 0.0, false},
		{"int zero", 0, false},
		{"json.Number zero", json.Number("0.0"), false},
		{"one", 1.0, true},
		{"negative", int64(-1), true},
		{"empty string", "", false},
		{"string", "false", true},
		{"empty map", map[string]any{}, false},
		{"map", map[string]any{"a": nil}, true},
		{"empty slice", []any{}, false},
		{"slice", []any{nil}, true},
		{"empty typed slice", []string{}, false},
		{"typed map", map[string]int{"a": 1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, Truthy(tt.v))
		})
	}
}
