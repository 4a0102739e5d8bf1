package dag

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrBadTemplate is returned by ParseTemplate and ResolveValue for a
// malformed reference inside "{{ }}": an empty or invalid path, or a
// "{{" that is never closed.
var ErrBadTemplate = errors.New("bad template")

// ErrBadPath is returned by SplitPath for an empty segment or a bad index.
var ErrBadPath = errors.New("bad path")

// Mode selects which brace styles a template recognises.
type Mode int

const (
	// TemplatesBoth recognises "{{ path }}" and "{path}". It is the default,
	// used for step inputs, condition values and top-level outputs.
	TemplatesBoth Mode = iota
	// TemplatesDouble recognises only "{{ path }}". It is used for step
	// config, so that Python str.format prompts such as "{text}" survive.
	TemplatesDouble
)

// Template is a parsed template string. It is immutable and safe for
// concurrent use.
//
// A reference is "{{ path }}" (any whitespace inside) or, in TemplatesBoth
// mode, "{path}" with no whitespace. A path is an identifier
// [A-Za-z_][A-Za-z0-9_-]* followed by ".seg" or "[N]" parts, so JSON text
// such as `{"a": 1}` or "{ not a path }" stays literal. Double braces whose
// content is not path-like (letters, digits, "_-.[]" and whitespace), such as
// the str.format escape `{{"a": 1}}`, also stay literal.
//
// A string that is exactly one reference, or one chain of alternatives
// "{a}|{b}|{{ c }}" (references joined by "|" and nothing else), ignoring
// surrounding whitespace, is a whole-value template: Eval returns the
// referenced value with its JSON type. The first alternative that is found
// and not null wins. References embedded in longer text render as text.
type Template struct {
	src   string
	parts []tmplPart
	whole [][]string // alternatives of a whole-value template, else nil
	refs  [][]string
}

// tmplPart is literal text (ref == nil) or one reference and its raw text.
type tmplPart struct {
	text string
	ref  []string
}

// ParseTemplate parses s. It returns an error wrapping ErrBadTemplate only
// for a malformed reference inside "{{ }}", such as "{{ a..b }}", "{{ }}" or
// an unterminated "{{ a".
func ParseTemplate(s string, mode Mode) (*Template, error) {
	t := &Template{src: s}
	lit := 0 // start of pending literal text
	addRef := func(start, end int, path []string) {
		if start > lit {
			t.parts = append(t.parts, tmplPart{text: s[lit:start]})
		}
		t.parts = append(t.parts, tmplPart{text: s[start:end], ref: path})
		t.refs = append(t.refs, path)
		lit = end
	}
	for i := 0; i < len(s); {
		if s[i] != '{' {
			i++
			continue
		}
		if strings.HasPrefix(s[i:], "{{") {
			// Scan the path-like run after "{{"; a reference must end it
			// with "}}". This keeps parsing linear.
			j := i + 2 + pathLikeLen(s[i+2:])
			switch {
			case j == len(s):
				return nil, fmt.Errorf("%w: unterminated %q", ErrBadTemplate, clip(s[i:]))
			case !strings.HasPrefix(s[j:], "}}"):
				i += 2 // literal double braces, e.g. a str.format escape
				continue
			}
			raw := s[i : j+2]
			trimmed := strings.TrimSpace(s[i+2 : j])
			if trimmed == "" {
				return nil, fmt.Errorf("%w: empty reference %q", ErrBadTemplate, clip(raw))
			}
			path, err := parseRefPath(trimmed)
			if err != nil {
				return nil, fmt.Errorf("%w: reference %q: %w", ErrBadTemplate, clip(raw), err)
			}
			addRef(i, j+2, path)
			i = j + 2
			continue
		}
		if mode == TemplatesBoth {
			j := i + 1
			for j < len(s) && (isSegChar(rune(s[j])) || s[j] == '.' || s[j] == '[' || s[j] == ']') {
				j++
			}
			if j < len(s) && s[j] == '}' {
				if path, err := parseRefPath(s[i+1 : j]); err == nil {
					addRef(i, j+1, path)
					i = j + 1
					continue
				}
			}
		}
		i++
	}
	if lit < len(s) {
		t.parts = append(t.parts, tmplPart{text: s[lit:]})
	}
	t.whole = wholeChain(t.parts)
	return t, nil
}

// wholeChain returns the alternatives when parts, ignoring whitespace-only
// literal text at both ends, are ref ("|" ref)*.
func wholeChain(parts []tmplPart) [][]string {
	if len(parts) > 0 && parts[0].ref == nil && strings.TrimSpace(parts[0].text) == "" {
		parts = parts[1:]
	}
	if n := len(parts); n > 0 && parts[n-1].ref == nil && strings.TrimSpace(parts[n-1].text) == "" {
		parts = parts[:n-1]
	}
	if len(parts)%2 == 0 {
		return nil
	}
	alts := make([][]string, 0, (len(parts)+1)/2)
	for i, p := range parts {
		if i%2 == 1 {
			if p.ref != nil || p.text != "|" {
				return nil
			}
			continue
		}
		if p.ref == nil {
			return nil
		}
		alts = append(alts, p.ref)
	}
	return alts
}

// clip shortens text quoted in an error message.
func clip(s string) string {
	const maxLen = 64
	if len(s) <= maxLen {
		return s
	}
	cut := maxLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// pathLikeLen returns the length of the prefix of s made of path characters
// (letters, digits, "_-.[]") and whitespace: the text of an intended
// "{{ reference }}".
func pathLikeLen(s string) int {
	for i, r := range s {
		if !isSegChar(r) && r != '.' && r != '[' && r != ']' && !unicode.IsSpace(r) {
			return i
		}
	}
	return len(s)
}

func isSegChar(r rune) bool {
	return r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
}

// parseRefPath parses the strict reference grammar
// [A-Za-z_][A-Za-z0-9_-]* then any of ".seg" (seg = [A-Za-z0-9_-]+) or "[N]".
func parseRefPath(p string) ([]string, error) {
	if p == "" {
		return nil, fmt.Errorf("%w: empty path", ErrBadPath)
	}
	if strings.TrimSpace(p) != p {
		return nil, fmt.Errorf("%w: %q has surrounding whitespace", ErrBadPath, clip(p))
	}
	if c := p[0]; c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
		return nil, fmt.Errorf("%w: %q must start with a letter or '_'", ErrBadPath, clip(p))
	}
	segs, err := SplitPath(p)
	if err != nil {
		return nil, err
	}
	for _, seg := range segs {
		for _, r := range seg {
			if !isSegChar(r) {
				return nil, fmt.Errorf("%w: %q has a bad character %q", ErrBadPath, clip(p), r)
			}
		}
	}
	return segs, nil
}

// SplitPath splits a dotted path into segments: "a.b[0].c" and "a.b.0.c"
// both give [a b 0 c]. Surrounding whitespace is ignored. Segments may hold
// any character but '.', '[' and ']'; an index must be decimal digits. It
// returns an error wrapping ErrBadPath for an empty path or segment.
func SplitPath(p string) ([]string, error) {
	p = strings.TrimSpace(p)
	if p == "" {
		return nil, fmt.Errorf("%w: empty path", ErrBadPath)
	}
	var segs []string
	for i := 0; i < len(p); {
		switch p[i] {
		case '[':
			end := strings.IndexByte(p[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("%w: %q: unclosed '['", ErrBadPath, clip(p))
			}
			idx := p[i+1 : i+end]
			if _, ok := index(idx); !ok {
				return nil, fmt.Errorf("%w: %q: index %q is not a number", ErrBadPath, clip(p), clip(idx))
			}
			segs = append(segs, idx)
			i += end + 1
			if i < len(p) && p[i] != '.' && p[i] != '[' {
				return nil, fmt.Errorf("%w: %q: text after ']'", ErrBadPath, clip(p))
			}
		case '.':
			if i == 0 || i == len(p)-1 || p[i+1] == '.' || p[i+1] == '[' {
				return nil, fmt.Errorf("%w: %q: empty segment", ErrBadPath, clip(p))
			}
			i++
		default:
			end := strings.IndexAny(p[i:], ".[]")
			if end < 0 {
				end = len(p) - i
			}
			if i+end < len(p) && p[i+end] == ']' {
				return nil, fmt.Errorf("%w: %q: unexpected ']'", ErrBadPath, clip(p))
			}
			segs = append(segs, p[i:i+end])
			i += end
		}
	}
	return segs, nil
}

// IsLiteral reports whether the template holds no reference.
func (t *Template) IsLiteral() bool { return t == nil || len(t.refs) == 0 }

// Refs returns every reference path, alternatives included, in order.
func (t *Template) Refs() [][]string {
	if t == nil {
		return nil
	}
	return clonePaths(t.refs)
}

// String returns the source text.
func (t *Template) String() string {
	if t == nil {
		return ""
	}
	return t.src
}

// Eval resolves the template through s. A whole-value template returns the
// referenced value itself (not copied) with its JSON type, or nil when no
// alternative is found and not null; missing then lists the alternatives
// that were not found. Otherwise Eval returns a string in which found
// references render as text (strings raw, everything else as compact JSON)
// and missing ones keep their placeholder text and are listed in missing.
func (t *Template) Eval(s Scope) (value any, missing [][]string) {
	if t == nil {
		return "", nil
	}
	if len(t.refs) == 0 {
		return t.src, nil
	}
	if t.whole != nil {
		for _, alt := range t.whole {
			v, found := lookup(s, alt)
			if !found {
				missing = append(missing, slices.Clone(alt))
				continue
			}
			if v != nil {
				return v, nil
			}
		}
		return nil, missing
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.ref == nil {
			b.WriteString(p.text)
			continue
		}
		v, found := lookup(s, p.ref)
		if !found {
			missing = append(missing, slices.Clone(p.ref))
			b.WriteString(p.text)
			continue
		}
		b.WriteString(RenderText(v))
	}
	return b.String(), missing
}

// lookup guards against a nil Scope.
func lookup(s Scope, path []string) (any, bool) {
	if s == nil {
		return nil, false
	}
	return s.Lookup(path)
}

// RenderText formats a value for embedding in text: strings raw, null as
// "null", numbers without a spurious ".0", booleans, objects and arrays as
// compact JSON (never Python reprs, no HTML escaping).
func RenderText(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case json.Number:
		return string(x)
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v) // NaN, Inf or a non-JSON Go value
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// ResolveValue resolves every string inside v (recursing through
// map[string]any and []any, which are copied, never modified) as a template
// in the given mode. Other values are returned as they are. missing lists
// the references that were not found; the error wraps ErrBadTemplate and
// names the key of the malformed string.
func ResolveValue(v any, s Scope, mode Mode) (any, [][]string, error) {
	var missing [][]string
	out, err := resolveValue(v, s, mode, "", &missing)
	if err != nil {
		return nil, missing, err
	}
	return out, missing, nil
}

func resolveValue(v any, s Scope, mode Mode, at string, missing *[][]string) (any, error) {
	switch x := v.(type) {
	case string:
		t, err := ParseTemplate(x, mode)
		if err != nil {
			if at != "" {
				return nil, fmt.Errorf("at %s: %w", at, err)
			}
			return nil, err
		}
		out, m := t.Eval(s)
		*missing = append(*missing, m...)
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := resolveValue(e, s, mode, joinKey(at, k), missing)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := resolveValue(e, s, mode, fmt.Sprintf("%s[%d]", at, i), missing)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

func joinKey(at, k string) string {
	if at == "" {
		return k
	}
	return at + "." + k
}

func clonePaths(ps [][]string) [][]string {
	if ps == nil {
		return nil
	}
	out := make([][]string, len(ps))
	for i, p := range ps {
		out[i] = slices.Clone(p)
	}
	return out
}
