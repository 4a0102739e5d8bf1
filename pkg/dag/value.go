package dag

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// JSON value helpers shared by templates and conditions. Values are what
// encoding/json produces (nil, bool, float64 or json.Number, string,
// map[string]any, []any) plus the Go integer and float types a step written
// in Go may return. Equality and ordering follow JSON, not Python: true is not
// 1, and 5 equals 5.0.

// Equal reports whether a and b are equal JSON values. Numbers of any Go
// numeric type (and json.Number) compare by value, booleans never equal
// numbers, and maps and slices compare deeply.
func Equal(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if na, ok := numberOf(a); ok {
		nb, ok := numberOf(b)
		return ok && na.cmp(nb) == 0 && !na.isNaN() && !nb.isNaN()
	}
	if _, ok := numberOf(b); ok {
		return false
	}
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case json.Number: // not a valid number (numberOf failed): compare the text
		y, ok := b.(json.Number)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !Equal(xv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !Equal(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// Compare orders two values: numbers by value and strings lexicographically
// (by byte, which is code-point order for UTF-8). A numeric string such as
// "0.8" is converted when the other side is a number. ok is false when the
// values cannot be ordered (mismatched types, null, NaN, maps, slices, bools);
// a condition then evaluates to false.
func Compare(a, b any) (int, bool) {
	na, aNum := numberOf(a)
	nb, bNum := numberOf(b)
	if aNum && !bNum {
		nb, bNum = numericString(b)
	} else if bNum && !aNum {
		na, aNum = numericString(a)
	}
	if aNum && bNum {
		if na.isNaN() || nb.isNaN() {
			return 0, false
		}
		return na.cmp(nb), true
	}
	sa, okA := a.(string)
	sb, okB := b.(string)
	if okA && okB {
		return strings.Compare(sa, sb), true
	}
	return 0, false
}

// Truthy reports the truthiness of a JSON value: nil, false, zero numbers,
// the empty string and empty maps and slices are false; everything else is
// true.
func Truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case map[string]any:
		return len(x) != 0
	case []any:
		return len(x) != 0
	}
	if n, ok := numberOf(v); ok {
		return !n.isZero()
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() { //nolint:exhaustive // other kinds are always truthy
	case reflect.Map, reflect.Slice, reflect.Array:
		return rv.Len() != 0
	case reflect.Pointer, reflect.Interface:
		return !rv.IsNil()
	}
	return true
}

// number is a numeric value kept exactly when it is an integer.
type number struct {
	i     int64
	f     float64
	isInt bool
}

func (n number) isNaN() bool  { return !n.isInt && math.IsNaN(n.f) }
func (n number) isZero() bool { return (n.isInt && n.i == 0) || (!n.isInt && n.f == 0) }

func (n number) float() float64 {
	if n.isInt {
		return float64(n.i)
	}
	return n.f
}

func (n number) cmp(o number) int {
	if n.isInt && o.isInt {
		switch {
		case n.i < o.i:
			return -1
		case n.i > o.i:
			return 1
		}
		return 0
	}
	a, b := n.float(), o.float()
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// numberOf converts any Go numeric type or a valid json.Number.
func numberOf(v any) (number, bool) {
	switch x := v.(type) {
	case float64:
		return number{f: x}, true
	case int:
		return number{i: int64(x), isInt: true}, true
	case int64:
		return number{i: x, isInt: true}, true
	case json.Number:
		return parseNumber(string(x))
	case float32:
		return number{f: float64(x)}, true
	case int8:
		return number{i: int64(x), isInt: true}, true
	case int16:
		return number{i: int64(x), isInt: true}, true
	case int32:
		return number{i: int64(x), isInt: true}, true
	case uint:
		return fromUint(uint64(x)), true
	case uint8:
		return number{i: int64(x), isInt: true}, true
	case uint16:
		return number{i: int64(x), isInt: true}, true
	case uint32:
		return number{i: int64(x), isInt: true}, true
	case uint64:
		return fromUint(x), true
	}
	return number{}, false
}

func fromUint(u uint64) number {
	if u > math.MaxInt64 {
		return number{f: float64(u)}
	}
	return number{i: int64(u), isInt: true}
}

// parseNumber parses JSON number text (no NaN, Inf, hex or underscores).
func parseNumber(s string) (number, bool) {
	if !isJSONNumber(s) {
		return number{}, false
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return number{i: i, isInt: true}, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !math.IsInf(f, 0) {
		return number{}, false
	}
	return number{f: f}, true
}

// numericString converts a string holding a JSON number, ignoring
// surrounding whitespace, as the other side of a numeric comparison.
func numericString(v any) (number, bool) {
	s, ok := v.(string)
	if !ok {
		return number{}, false
	}
	return parseNumber(strings.TrimSpace(s))
}

// isJSONNumber reports whether s matches the JSON number grammar.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - start
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}
