package jsonx_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/internal/jsonx"
)

// TestScannerReadValue: documents the fast path decodes itself, to what
// encoding/json gives.
func TestScannerReadValue(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{
		`null`, `true`, `false`, `0`, `-0`, `7`, `-12`, `1.5`, `-0.25e-3`, `1E+2`, `123456789012345`,
		`1234567890123456789`, `9007199254740993`, `1.7976931348623157e308`,
		`""`, `"plain"`, `"esc \" \\ \/ \b \f \n \r \t"`, `"\u00e9\u2028\ud83d\ude00 é 😀"`, `"\u0000"`,
		`[]`, `{}`, ` [ 1 , "a" , null , { } , [ ] ] `, `{"a":{"b":[{"c":null}]},"a2":-1}`,
		`{"dup":1,"dup":2}`, `{"k\"ey":1, "\u00e9":2}`, "\t\n\r {\"x\" : \"y\"}\n",
	} {
		t.Run(doc, func(t *testing.T) {
			t.Parallel()
			var want any
			require.NoError(t, json.Unmarshal([]byte(doc), &want))
			s := jsonx.NewScanner([]byte(doc))
			got, ok := s.ReadValue()
			require.True(t, ok, "the fast path gave up")
			require.True(t, s.Done())
			require.Equal(t, want, got)
			if f, isF := want.(float64); isF {
				require.Equal(t, math.Signbit(f), math.Signbit(got.(float64)), "sign of %s", doc)
			}
		})
	}
}

// TestUnmarshalFallsBack: input the fast path leaves to encoding/json gets
// encoding/json's result or error.
func TestUnmarshalFallsBack(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{
		`"\ud83d"`, `"\ud83d\u0041"`, "\"bad \xff utf8\"", `1e400`, `-1e400`,
		``, ` `, `nul`, `tru`, `01`, `-`, `1.`, `1e`, `.5`, `+1`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `{a:1}`,
		`[1 2]`, `"unterminated`, "\"ctl \x01\"", `"\x"`, `"\u12"`, `{"a":1}x`, `[] []`,
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	} {
		t.Run(doc[:min(len(doc), 20)], func(t *testing.T) {
			t.Parallel()
			var want any
			werr := json.Unmarshal([]byte(doc), &want)
			got, err := jsonx.Unmarshal([]byte(doc))
			if werr != nil {
				require.EqualError(t, err, werr.Error())
				return
			}
			require.NoError(t, err)
			require.Equal(t, want, got)
		})
	}
}

func TestScannerReadInt(t *testing.T) {
	t.Parallel()
	for doc, want := range map[string]int64{`0`: 0, `-0`: 0, `42`: 42, ` -7`: -7, `9223372036854775807`: math.MaxInt64} {
		s := jsonx.NewScanner([]byte(doc))
		n, ok := s.ReadInt()
		require.True(t, ok, doc)
		require.Equal(t, want, n, doc)
	}
	for _, doc := range []string{`1.0`, `1e2`, `01`, `-`, `"1"`, `null`, `9223372036854775808`} {
		_, ok := jsonx.NewScanner([]byte(doc)).ReadInt()
		require.False(t, ok, doc)
	}
}

// TestScannerReadObject: a decoder of a known shape, with keys unescaped.
func TestScannerReadObject(t *testing.T) {
	t.Parallel()
	var (
		name  string
		n     int64
		extra map[string]any
		keys  []string
	)
	s := jsonx.NewScanner([]byte(`{"name":"x","n":3,"\u0065xtra":{"k":[true]},"m":null}`))
	ok := s.ReadObject(func(key []byte) bool {
		keys = append(keys, string(key))
		var ok bool
		switch string(key) {
		case "name":
			name, ok = s.ReadString()
		case "n":
			n, ok = s.ReadInt()
		case "extra":
			extra, ok = s.ReadMap()
		case "m":
			var m map[string]any
			m, ok = s.ReadMap()
			ok = ok && m == nil
		}
		return ok
	})
	require.True(t, ok)
	require.True(t, s.Done())
	require.Equal(t, []string{"name", "n", "extra", "m"}, keys)
	require.Equal(t, "x", name)
	require.Equal(t, int64(3), n)
	require.Equal(t, map[string]any{"k": []any{true}}, extra)

	require.False(t, jsonx.NewScanner([]byte(`{"a":1}`)).ReadObject(func([]byte) bool { return false }), "a field that gives up")
	require.False(t, jsonx.NewScanner([]byte(`[1]`)).ReadObject(func([]byte) bool { return true }), "not an object")
}

// FuzzUnmarshal: for any input, the value or error encoding/json gives.
func FuzzUnmarshal(f *testing.F) {
	for _, seed := range []string{
		`null`, `{"a":[1,-0,2.5e-3,"x\n\u00e9"],"b":{"c":true}}`, `"\ud83d\ude00"`, `"\ud83d"`, "\"\xff\"",
		`1e400`, `[1,]`, `01`, `{"a":1,"a":2}`, ` [ ] `, `123456789012345678`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var want any
		werr := json.Unmarshal(doc, &want)
		got, err := jsonx.Unmarshal(doc)
		if werr != nil {
			require.Error(t, err)
			return
		}
		require.NoError(t, err)
		require.Equal(t, want, got)
	})
}

// TestScannerReadRaw: a value's bytes, as a json.RawMessage field would
// receive them, and false on invalid input.
func TestScannerReadRaw(t *testing.T) {
	t.Parallel()
	for doc, want := range map[string]string{
		` {"a" : [1, null]} ,`: `{"a" : [1, null]}`,
		`"s\n"]`:               `"s\n"`,
		` -1.5e3}`:             `-1.5e3`,
		`null`:                 `null`,
	} {
		s := jsonx.NewScanner([]byte(doc))
		got, ok := s.ReadRaw()
		require.True(t, ok, doc)
		require.Equal(t, want, string(got), doc)
	}
	for _, doc := range []string{`{"a":}`, `[1,]`, `tru`, ``} {
		_, ok := jsonx.NewScanner([]byte(doc)).ReadRaw()
		require.False(t, ok, doc)
	}
}

// TestScannerReadStruct: known keys once each; an unknown or repeated key
// gives up.
func TestScannerReadStruct(t *testing.T) {
	t.Parallel()
	read := func(doc string) (a string, n int, ok bool) {
		s := jsonx.NewScanner([]byte(doc))
		ok = s.ReadStruct(func(key []byte) (uint32, bool) {
			switch string(key) {
			case "a":
				return 1, s.ReadStringInto(&a)
			case "n":
				return 2, s.ReadIntInto(&n)
			}
			return 0, false
		}) && s.Done()
		return a, n, ok
	}
	a, n, ok := read(` {"n": 7, "a": "x"} `)
	require.True(t, ok)
	require.Equal(t, "x", a)
	require.Equal(t, 7, n)
	for _, doc := range []string{`{"a":"x","a":"y"}`, `{"b":1}`, `{"n":1.5}`, `{"a":null}`, `[]`} {
		_, _, ok := read(doc)
		require.False(t, ok, doc)
	}
}
