package dag

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func templateScope() MapScope {
	return MapScope{
		"parameters": map[string]any{
			"topic":     "go",
			"threshold": 0.8,
			"count":     3.0,
			"big":       1e21,
			"int":       7,
			"int64":     int64(-2),
			"num":       json.Number("12"),
			"flag":      true,
			"none":      nil,
			"obj":       map[string]any{"a": 1.0, "b": []any{"x", "<y>"}},
			"list":      []any{1.0, "two", map[string]any{"three": 3.0}},
			"empty":     "",
		},
		"steps": map[string]any{
			"step4": map[string]any{"output": map[string]any{"processed_data": "basic"}},
		},
		"draft_content": map[string]any{"draft": "text", "revision_count": 2.0},
		"my-step":       map[string]any{"v": "dash"},
		"_x":            "underscore",
	}
}

func TestParseTemplateErrors(t *testing.T) {
	t.Parallel()

	for _, s := range []string{
		"{{ a..b }}",
		"{{ }}",
		"{{}}",
		"{{ a",
		"x {{ a.b",
		"{{",
		"{{ a b }}",
		"{{ 1a }}",
		"{{ a[x] }}",
		"{{ a. }}",
		"{{ .a }}",
		"{{ a[0 }}",
		"{{ a]0 }}",
	} {
		t.Run(s, func(t *testing.T) {
			t.Parallel()
			_, err := ParseTemplate(s, TemplatesBoth)
			require.ErrorIs(t, err, ErrBadTemplate)
			_, err = ParseTemplate(s, TemplatesDouble)
			require.ErrorIs(t, err, ErrBadTemplate)
		})
	}
}

func TestTemplateEval(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		in      string
		mode    Mode
		want    any
		missing [][]string
	}{
		// whole-value, both brace styles, types kept
		{"double string", "{{ parameters.topic }}", TemplatesBoth, "go", nil},
		{"double no spaces", "{{parameters.topic}}", TemplatesBoth, "go", nil},
		{"double newline tab", "{{\n\tparameters.topic \n}}", TemplatesBoth, "go", nil},
		{"single string", "{parameters.topic}", TemplatesBoth, "go", nil},
		{"surrounding space", "  {{ parameters.topic }}\n", TemplatesBoth, "go", nil},
		{"whole number", "{{ parameters.threshold }}", TemplatesBoth, 0.8, nil},
		{"whole int", "{parameters.int}", TemplatesBoth, 7, nil},
		{"whole json.Number", "{parameters.num}", TemplatesBoth, json.Number("12"), nil},
		{"whole bool", "{{ parameters.flag }}", TemplatesBoth, true, nil},
		{"whole null", "{{ parameters.none }}", TemplatesBoth, nil, nil},
		{"whole object", "{{ parameters.obj }}", TemplatesBoth, map[string]any{"a": 1.0, "b": []any{"x", "<y>"}}, nil},
		{"whole array", "{parameters.list}", TemplatesBoth, []any{1.0, "two", map[string]any{"three": 3.0}}, nil},
		{"nested path", "{{ parameters.obj.b }}", TemplatesBoth, []any{"x", "<y>"}, nil},
		{"bracket index", "{{ parameters.obj.b[1] }}", TemplatesBoth, "<y>", nil},
		{"dotted index", "{parameters.list.2.three}", TemplatesBoth, 3.0, nil},
		{"index then field", "{parameters.list[2].three}", TemplatesBoth, 3.0, nil},
		{"dash in name", "{{ my-step.v }}", TemplatesBoth, "dash", nil},
		{"underscore start", "{_x}", TemplatesBoth, "underscore", nil},
		{"step id path", "{{ draft_content.revision_count }}", TemplatesBoth, 2.0, nil},

		// whole-value missing
		{"whole missing", "{{ nope.x }}", TemplatesBoth, nil, [][]string{{"nope", "x"}}},
		{"whole missing index", "{{ parameters.list[9] }}", TemplatesBoth, nil, [][]string{{"parameters", "list", "9"}}},

		// alternatives
		{"alt first missing", "{steps.step3.output.processed_data}|{steps.step4.output.processed_data}", TemplatesBoth, "basic", nil},
		{"alt first null", "{parameters.none}|{{ parameters.topic }}", TemplatesBoth, "go", nil},
		{"alt first wins", "{parameters.topic}|{parameters.flag}", TemplatesBoth, "go", nil},
		{"alt three", "{a}|{b}|{{ parameters.count }}", TemplatesBoth, 3.0, nil},
		{"alt none", "{a}|{b}", TemplatesBoth, nil, [][]string{{"a"}, {"b"}}},
		{"alt null and missing", "{parameters.none}|{b}", TemplatesBoth, nil, [][]string{{"b"}}},
		{"alt double mode", "{{ a }}|{{ parameters.topic }}", TemplatesDouble, "go", nil},
		{"alt with spaces is text", "{a} | {parameters.topic}", TemplatesBoth, "{a} | go", [][]string{{"a"}}},

		// embedded rendering
		{"embedded string", "Write about {{ parameters.topic }}!", TemplatesBoth, "Write about go!", nil},
		{"embedded single", "Write about {parameters.topic}!", TemplatesBoth, "Write about go!", nil},
		{"embedded twice", "{{parameters.topic}} and {{ parameters.topic }}", TemplatesBoth, "go and go", nil},
		{"embedded float", "t={{ parameters.threshold }}", TemplatesBoth, "t=0.8", nil},
		{"embedded integral float", "n={{ parameters.count }}", TemplatesBoth, "n=3", nil},
		{"embedded big float", "n={{ parameters.big }}", TemplatesBoth, "n=1e+21", nil},
		{"embedded int", "n={parameters.int}/{parameters.int64}", TemplatesBoth, "n=7/-2", nil},
		{"embedded json.Number", "n={parameters.num}", TemplatesBoth, "n=12", nil},
		{"embedded bool", "f={{ parameters.flag }}", TemplatesBoth, "f=true", nil},
		{"embedded null", "v={{ parameters.none }}", TemplatesBoth, "v=null", nil},
		{"embedded object", "o={{ parameters.obj }}", TemplatesBoth, `o={"a":1,"b":["x","<y>"]}`, nil},
		{"embedded array", "l={{ parameters.list }}", TemplatesBoth, `l=[1,"two",{"three":3}]`, nil},
		{"embedded empty", "[{{ parameters.empty }}]", TemplatesBoth, "[]", nil},
		{"embedded missing", "hi {{ nope }} and {parameters.topic}", TemplatesBoth, "hi {{ nope }} and go", [][]string{{"nope"}}},
		{"embedded missing single", "hi {nope.x}", TemplatesBoth, "hi {nope.x}", [][]string{{"nope", "x"}}},

		// literals
		{"plain", "hello", TemplatesBoth, "hello", nil},
		{"empty", "", TemplatesBoth, "", nil},
		{"json object", `{"a": 1}`, TemplatesBoth, `{"a": 1}`, nil},
		{"json nested", `{"a": {"b": [1, 2]}}`, TemplatesBoth, `{"a": {"b": [1, 2]}}`, nil},
		{"not a path", "{ not a path }", TemplatesBoth, "{ not a path }", nil},
		{"single with spaces", "{ parameters.topic }", TemplatesBoth, "{ parameters.topic }", nil},
		{"digit start", "{1abc}", TemplatesBoth, "{1abc}", nil},
		{"empty braces", "{}", TemplatesBoth, "{}", nil},
		{"lone braces", "a { b } c }", TemplatesBoth, "a { b } c }", nil},
		{"format escape", `Return {{"answer": "{text}"}}`, TemplatesDouble, `Return {{"answer": "{text}"}}`, nil},
		{"double mode keeps single", "Summarise {text} about {parameters.topic}", TemplatesDouble, "Summarise {text} about {parameters.topic}", nil},
		{"double mode resolves double", "Summarise {text} about {{ parameters.topic }}", TemplatesDouble, "Summarise {text} about go", nil},
		{"double brace with pipe", "{{ x | upper }}", TemplatesBoth, "{{ x | upper }}", nil},
		{"unterminated non path", `{{"a": 1`, TemplatesBoth, `{{"a": 1`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tmpl, err := ParseTemplate(tt.in, tt.mode)
			require.NoError(t, err)
			got, missing := tmpl.Eval(templateScope())
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.missing, missing)
			require.Equal(t, tt.in, tmpl.String())
		})
	}
}

func TestTemplateRefsAndLiteral(t *testing.T) {
	t.Parallel()

	tmpl, err := ParseTemplate("{a}|{{ b.c[0] }}", TemplatesBoth)
	require.NoError(t, err)
	require.False(t, tmpl.IsLiteral())
	require.Equal(t, [][]string{{"a"}, {"b", "c", "0"}}, tmpl.Refs())

	tmpl, err = ParseTemplate("x {a} y {{ b }}", TemplatesDouble)
	require.NoError(t, err)
	require.Equal(t, [][]string{{"b"}}, tmpl.Refs())

	tmpl, err = ParseTemplate(`{"a": 1}`, TemplatesBoth)
	require.NoError(t, err)
	require.True(t, tmpl.IsLiteral())
	require.Empty(t, tmpl.Refs())

	// Refs returns a copy.
	tmpl, err = ParseTemplate("{a.b}", TemplatesBoth)
	require.NoError(t, err)
	tmpl.Refs()[0][0] = "zzz"
	require.Equal(t, [][]string{{"a", "b"}}, tmpl.Refs())

	// nil template and nil scope are safe.
	var nilTmpl *Template
	require.True(t, nilTmpl.IsLiteral())
	v, missing := tmpl.Eval(nil)
	require.Nil(t, v)
	require.Equal(t, [][]string{{"a", "b"}}, missing)
}

func TestSplitPath(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in   string
		want []string
	}{
		{"a", []string{"a"}},
		{"a.b[0].c", []string{"a", "b", "0", "c"}},
		{"a.b.0.c", []string{"a", "b", "0", "c"}},
		{"a[0][1]", []string{"a", "0", "1"}},
		{" result.decision ", []string{"result", "decision"}},
		{"quality-score.x y", []string{"quality-score", "x y"}},
		{"[0].a", []string{"0", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := SplitPath(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	for _, bad := range []string{"", "  ", "a..b", ".a", "a.", "a[", "a[x]", "a[0]b", "a]", "a.[0]", "a[]", "a[1234567890]"} {
		t.Run("bad "+bad, func(t *testing.T) {
			t.Parallel()
			_, err := SplitPath(bad)
			require.ErrorIs(t, err, ErrBadPath)
		})
	}
}

func TestResolveValue(t *testing.T) {
	t.Parallel()

	in := map[string]any{
		"prompt":    "About {{ parameters.topic }}: {text}",
		"threshold": "{{ parameters.threshold }}",
		"n":         5.0,
		"list":      []any{"{{ parameters.flag }}", true, nil, "{{ missing.x }}"},
		"nested":    map[string]any{"obj": "{{ parameters.obj.a }}"},
	}
	out, missing, err := ResolveValue(in, templateScope(), TemplatesDouble)
	require.NoError(t, err)
	require.Equal(t, map[string]any{
		"prompt":    "About go: {text}",
		"threshold": 0.8,
		"n":         5.0,
		"list":      []any{true, true, nil, nil},
		"nested":    map[string]any{"obj": 1.0},
	}, out)
	require.Equal(t, [][]string{{"missing", "x"}}, missing)
	require.Equal(t, "{{ parameters.threshold }}", in["threshold"], "input not modified")

	out, missing, err = ResolveValue("{parameters.topic}", templateScope(), TemplatesBoth)
	require.NoError(t, err)
	require.Equal(t, "go", out)
	require.Empty(t, missing)

	_, _, err = ResolveValue(map[string]any{"a": []any{"ok", "{{ a..b }}"}}, templateScope(), TemplatesBoth)
	require.ErrorIs(t, err, ErrBadTemplate)
	require.ErrorContains(t, err, "a[1]")
}

func TestRenderText(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in   any
		want string
	}{
		{nil, "null"},
		{"s", "s"},
		{true, "true"},
		{false, "false"},
		{3.0, "3"},
		{-0.5, "-0.5"},
		{1e-7, "1e-7"},
		{float32(1.5), "1.5"},
		{int64(9007199254740993), "9007199254740993"},
		{uint8(4), "4"},
		{json.Number("1.50"), "1.50"},
		{map[string]any{"b": 1.0, "a": "<&>"}, `{"a":"<&>","b":1}`},
		{[]any{}, "[]"},
		{map[string]any{}, "{}"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, RenderText(tt.in))
		})
	}
}

func TestParseTemplateLargeInputs(t *testing.T) {
	t.Parallel()

	// Parsing is linear: these take milliseconds, not minutes.
	for _, s := range []string{
		strings.Repeat("{", 1<<20),
		strings.Repeat("{a", 1<<19),
		strings.Repeat("{{ a ", 1<<18) + "}}",
		strings.Repeat("{{a}", 1<<18),
		strings.Repeat("[", 1<<20),
	} {
		_, _ = ParseTemplate(s, TemplatesBoth)
		_, _ = ParseTemplate(s, TemplatesDouble)
		_, _ = SplitPath(s)
	}
	tmpl, err := ParseTemplate(strings.Repeat("{a}", 1<<16), TemplatesBoth)
	require.NoError(t, err)
	require.Len(t, tmpl.Refs(), 1<<16)
}

func TestTemplateConcurrentEval(t *testing.T) {
	t.Parallel()

	tmpl, err := ParseTemplate("{{ parameters.topic }} {parameters.obj}", TemplatesBoth)
	require.NoError(t, err)
	scope := templateScope()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			v, missing := tmpl.Eval(scope)
			require.Equal(t, `go {"a":1,"b":["x","<y>"]}`, v)
			require.Empty(t, missing)
		})
	}
	wg.Wait()
}
