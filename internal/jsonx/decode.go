package jsonx

import (
	"encoding/json"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth is encoding/json's nesting limit; deeper input is left to it
// (and its error).
const maxDepth = 10000

// Unmarshal returns what json.Unmarshal(data, &v) leaves in an `any` v,
// and its error. It decodes without reflection and hands what it does not
// decode itself (invalid input, lone surrogates, invalid UTF-8, numbers
// out of range) to encoding/json, so the result is always encoding/json's.
func Unmarshal(data []byte) (any, error) {
	s := Scanner{b: data}
	if v, ok := s.ReadValue(); ok && s.Done() {
		return v, nil
	}
	var v any
	err := json.Unmarshal(data, &v)
	return v, err
}

// A Scanner reads one JSON document without reflection, for decoders of
// known shapes. Every Read method returns false when it gives up: on
// invalid input, and on valid input it leaves to encoding/json. After a
// false the Scanner's position is undefined; decode the whole document
// with encoding/json instead, which gives its result or its error.
type Scanner struct {
	b     []byte
	i     int
	depth int
}

// NewScanner returns a Scanner at the start of data.
func NewScanner(data []byte) *Scanner { return &Scanner{b: data} }

// Done reports whether only whitespace is left.
func (s *Scanner) Done() bool {
	s.skipSpace()
	return s.i == len(s.b)
}

func (s *Scanner) skipSpace() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte (0 at the end).
func (s *Scanner) peek() byte {
	s.skipSpace()
	if s.i == len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// ReadObject reads an object, calling field with each key; field must read
// the key's value (with a Read method) and return true, or return false to
// give up.
func (s *Scanner) ReadObject(field func(key []byte) bool) bool {
	if s.peek() != '{' {
		return false
	}
	s.i++
	if s.depth++; s.depth > maxDepth {
		return false
	}
	if s.peek() == '}' {
		s.i++
		s.depth--
		return true
	}
	var buf []byte // unescaped keys
	for {
		if s.peek() != '"' {
			return false
		}
		key, ok := s.readString(&buf)
		if !ok || s.peek() != ':' {
			return false
		}
		s.i++
		if !field(key) {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			s.depth--
			return true
		default:
			return false
		}
	}
}

// ReadStruct reads an object into a struct's fields: field reads the
// value of a key it knows and returns the key's bit (a distinct power of
// two) and true. It gives up on a key field does not know (bit 0), on a
// key seen twice, and when field gives up: the cases where encoding/json
// matches keys regardless of case, or merges a repeated key into what it
// decoded first, are left to it.
func (s *Scanner) ReadStruct(field func(key []byte) (bit uint32, ok bool)) bool {
	var seen uint32
	return s.ReadObject(func(key []byte) bool {
		bit, ok := field(key)
		ok = ok && bit != 0 && seen&bit == 0
		seen |= bit
		return ok
	})
}

// ReadIntInto reads an integer literal into an int field, giving up when
// it does not fit.
func (s *Scanner) ReadIntInto(dst *int) bool {
	n, ok := s.ReadInt()
	*dst = int(n)
	return ok && int64(*dst) == n
}

// ReadStringInto reads a string (not null) into a string field.
func (s *Scanner) ReadStringInto(dst *string) (ok bool) {
	*dst, ok = s.ReadString()
	return ok
}

// ReadMap reads an object into a new map, or null into a nil map.
func (s *Scanner) ReadMap() (map[string]any, bool) {
	if s.peek() == 'n' {
		return nil, s.literal("null")
	}
	m := map[string]any{}
	ok := s.ReadObject(func(key []byte) bool {
		v, ok := s.ReadValue()
		m[string(key)] = v // a repeated key: the last one wins, as in encoding/json
		return ok
	})
	return m, ok
}

// ReadMapRaw is ReadMap that also returns the value's bytes (a subslice of
// the input).
func (s *Scanner) ReadMapRaw() (map[string]any, []byte, bool) {
	s.skipSpace()
	start := s.i
	m, ok := s.ReadMap()
	return m, s.b[start:s.i], ok
}

// ReadRaw reads any value and returns its bytes (a subslice of the input),
// as encoding/json hands them to a json.RawMessage.
func (s *Scanner) ReadRaw() ([]byte, bool) {
	s.skipSpace()
	start := s.i
	_, ok := s.ReadValue()
	return s.b[start:s.i], ok
}

// ReadString reads a string (not null).
func (s *Scanner) ReadString() (string, bool) {
	if s.peek() != '"' {
		return "", false
	}
	var buf []byte
	b, ok := s.readString(&buf)
	return string(b), ok
}

// ReadInt reads an integer literal, as encoding/json decodes one into an
// int field: no fraction, no exponent.
func (s *Scanner) ReadInt() (int64, bool) {
	s.skipSpace()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	digits := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	if n := s.i - digits; n == 0 || s.b[digits] == '0' && n > 1 {
		return 0, false
	}
	if s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		return 0, false
	}
	v, err := strconv.ParseInt(string(s.b[start:s.i]), 10, 64)
	return v, err == nil
}

// ReadValue reads any value as encoding/json decodes it into an `any`:
// map[string]any, []any, string, float64, bool or nil.
func (s *Scanner) ReadValue() (any, bool) {
	switch c := s.peek(); {
	case c == '{':
		return s.ReadMap()
	case c == '[':
		return s.readArray()
	case c == '"':
		return s.ReadString()
	case c == 't':
		return true, s.literal("true")
	case c == 'f':
		return false, s.literal("false")
	case c == 'n':
		return nil, s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return s.readNumber()
	}
	return nil, false
}

func (s *Scanner) literal(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}

func (s *Scanner) readArray() (any, bool) {
	s.i++ // '['
	if s.depth++; s.depth > maxDepth {
		return nil, false
	}
	a := []any{}
	if s.peek() == ']' {
		s.i++
		s.depth--
		return a, true
	}
	for {
		v, ok := s.ReadValue()
		if !ok {
			return nil, false
		}
		a = append(a, v)
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			s.depth--
			return a, true
		default:
			return nil, false
		}
	}
}

// readNumber reads a number per JSON's grammar into a float64.
func (s *Scanner) readNumber() (any, bool) {
	start := s.i
	if s.b[s.i] == '-' {
		s.i++
	}
	digits := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	n := s.i - digits
	if n == 0 || s.b[digits] == '0' && n > 1 {
		return nil, false
	}
	integer := true
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if !s.digits() {
			return nil, false
		}
		integer = false
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if !s.digits() {
			return nil, false
		}
		integer = false
	}
	if integer && n <= 15 {
		// Exact in a float64, and the common case: skip the string.
		var v int64
		for _, c := range s.b[digits:s.i] {
			v = v*10 + int64(c-'0')
		}
		if start != digits {
			if v == 0 {
				return negZero, true
			}
			v = -v
		}
		return float64(v), true
	}
	f, err := strconv.ParseFloat(string(s.b[start:s.i]), 64)
	return f, err == nil
}

// negZero is -0, which encoding/json gives for "-0" (a constant -0.0 is +0 in Go).
var negZero = func() float64 { z := 0.0; return -z }()

func (s *Scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

// readString reads the string at s.i (a '"'): a subslice of the input when
// it has no escapes, else its bytes unescaped into *buf (reused). Invalid
// UTF-8 and lone surrogates, which encoding/json replaces with U+FFFD, are
// left to it.
func (s *Scanner) readString(scratch *[]byte) ([]byte, bool) {
	s.i++
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if c == '"' {
			s.i++
			return s.b[start : s.i-1], true
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		s.i++
	}
	buf := append((*scratch)[:0], s.b[start:s.i]...)
	defer func() { *scratch = buf }()
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return buf, true
		case c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && size == 1 {
				return nil, false
			}
			buf = append(buf, s.b[s.i:s.i+size]...)
			s.i += size
		case c != '\\':
			buf = append(buf, c)
			s.i++
		default:
			if s.i+1 >= len(s.b) {
				return nil, false
			}
			e := s.b[s.i+1]
			s.i += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := s.hex4()
				if !ok {
					return nil, false
				}
				if utf16.IsSurrogate(r) {
					if s.i+1 >= len(s.b) || s.b[s.i] != '\\' || s.b[s.i+1] != 'u' {
						return nil, false
					}
					s.i += 2
					r2, ok := s.hex4()
					if r = utf16.DecodeRune(r, r2); !ok || r == utf8.RuneError {
						return nil, false
					}
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return nil, false
			}
		}
	}
	return nil, false
}

func (s *Scanner) hex4() (rune, bool) {
	if len(s.b)-s.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	s.i += 4
	return r, true
}
