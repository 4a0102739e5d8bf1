package jsonx_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/internal/jsonx"
)

// TestAppendValue: the same bytes (or error) as json.Marshal.
func TestAppendValue(t *testing.T) {
	t.Parallel()
	for name, v := range map[string]any{
		"nil":          nil,
		"string":       "a \"quoted\" <b> & \u2028 é \x01",
		"bools":        []any{true, false},
		"floats":       []any{0.0, -0.0, 1.0, 1.5, 1e20, 1e21, 1e-6, 1e-7, 123456789.125, -3.25e-9, math.MaxFloat64},
		"ints":         []any{int(-3), int64(1 << 60)},
		"nested":       map[string]any{"z": 1.0, "a": map[string]any{"y": []any{"x", nil, map[string]any{}}}, "m": []any{}},
		"nil map":      map[string]any(nil),
		"nil slice":    []any(nil),
		"other types":  map[string]any{"n": json.Number("12.50"), "raw": json.RawMessage(`{"b": 1, "a": 2}`), "s": []string{"x"}, "u": uint8(7)},
		"many keys":    manyKeys(40),
		"unicode keys": map[string]any{"é": 1.0, "e": 2.0, "<": 3.0},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want, err := json.Marshal(v)
			require.NoError(t, err)
			got, err := jsonx.AppendValue([]byte("prefix"), v)
			require.NoError(t, err)
			require.Equal(t, "prefix"+string(want), string(got))
		})
	}
}

func TestAppendValueErrors(t *testing.T) {
	t.Parallel()
	for name, v := range map[string]any{
		"NaN":         math.NaN(),
		"Inf in map":  map[string]any{"a": math.Inf(1)},
		"func":        []any{func() {}},
		"bad channel": map[string]any{"c": make(chan int)},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, want := json.Marshal(v)
			require.Error(t, want)
			_, err := jsonx.AppendValue(nil, v)
			require.Error(t, err)
		})
	}
}

func manyKeys(n int) map[string]any {
	m := map[string]any{}
	for i := range n {
		m[string(rune('A'+i))+"key"] = float64(i) / 3
	}
	return m
}

// FuzzAppendValue: for any JSON document, decoded as the engine decodes
// step outputs, AppendValue writes what json.Marshal writes.
func FuzzAppendValue(f *testing.F) {
	for _, seed := range []string{
		`null`, `true`, `"x"`, `1`, `-0.000001`, `1e21`, `123456789012345678901234567890`,
		`{"b":1,"a":[1,2,{"c":null}],"<&>":"\u2028"}`, `[[],{},"",0]`, `{"é":"\u00e9\t\n"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var v any
		if json.Unmarshal(doc, &v) != nil {
			return
		}
		want, werr := json.Marshal(v)
		got, gerr := jsonx.AppendValue(nil, v)
		if werr != nil {
			require.Error(t, gerr)
			return
		}
		require.NoError(t, gerr)
		require.Equal(t, string(want), string(got))
	})
}

// TestAppendStringMap: json.Marshal's bytes for a map of strings.
func TestAppendStringMap(t *testing.T) {
	t.Parallel()
	for _, m := range []map[string]string{nil, {}, {"run_id": "r", "step_id": "s"}, {"z": "<&>", "a": "é\n", "": "\u2028"}} {
		want, err := json.Marshal(m)
		require.NoError(t, err)
		require.Equal(t, string(want), string(jsonx.AppendStringMap(nil, m)))
	}
}
