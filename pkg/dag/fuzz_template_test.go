package dag

import (
	"errors"
	"strings"
	"testing"
)

// FuzzTemplate parses arbitrary strings in both modes and evaluates them
// against a fixed scope. Seeds live in testdata/fuzz/FuzzTemplate.
func FuzzTemplate(f *testing.F) {
	f.Add("{{ parameters.topic }}", false)
	f.Add("x {a}|{b} {{ c.d[0] }}", true)

	scope := templateScope()
	f.Fuzz(func(t *testing.T, s string, double bool) {
		mode := TemplatesBoth
		if double {
			mode = TemplatesDouble
		}
		tmpl, err := ParseTemplate(s, mode)
		if err != nil {
			if !errors.Is(err, ErrBadTemplate) {
				t.Fatalf("ParseTemplate(%q): error %v does not wrap ErrBadTemplate", s, err)
			}
			if _, _, rerr := ResolveValue(s, scope, mode); !errors.Is(rerr, ErrBadTemplate) {
				t.Fatalf("ResolveValue(%q) = %v, want ErrBadTemplate", s, rerr)
			}
			return
		}
		if tmpl.String() != s {
			t.Fatalf("String() = %q, want %q", tmpl.String(), s)
		}
		var joined strings.Builder
		for _, p := range tmpl.parts {
			joined.WriteString(p.text)
		}
		if joined.String() != s {
			t.Fatalf("parts of %q join to %q", s, joined.String())
		}
		for _, ref := range tmpl.Refs() {
			if len(ref) == 0 {
				t.Fatalf("%q: empty reference path", s)
			}
			for _, seg := range ref {
				if seg == "" {
					t.Fatalf("%q: empty segment in %q", s, ref)
				}
			}
		}

		got, missing := tmpl.Eval(scope)
		if tmpl.IsLiteral() {
			if got != s || missing != nil {
				t.Fatalf("literal %q evaluated to %#v, missing %v", s, got, missing)
			}
		}
		if _, isWhole := got.(string); !isWhole && tmpl.whole == nil {
			t.Fatalf("embedded template %q evaluated to non-string %#v", s, got)
		}
		resolved, rmissing, err := ResolveValue(s, scope, mode)
		if err != nil || !Equal(resolved, got) || len(rmissing) != len(missing) {
			t.Fatalf("ResolveValue(%q) = %#v, %v, %v; Eval gave %#v, %v", s, resolved, rmissing, err, got, missing)
		}
		_, _ = tmpl.Eval(nil)

		// A scope value comes back unchanged through a whole-value template.
		for _, src := range []string{"{{ v }}", " {v} ", "{missing}|{{v}}"} {
			whole, err := ParseTemplate(src, TemplatesBoth)
			if err != nil {
				t.Fatal(err)
			}
			if v, m := whole.Eval(MapScope{"v": s}); v != s || m != nil {
				t.Fatalf("%s with v=%q gave %#v, missing %v", src, s, v, m)
			}
		}

		if segs, err := SplitPath(s); err == nil {
			for _, seg := range segs {
				if seg == "" {
					t.Fatalf("SplitPath(%q) gave an empty segment: %q", s, segs)
				}
			}
		} else if !errors.Is(err, ErrBadPath) {
			t.Fatalf("SplitPath(%q): error %v does not wrap ErrBadPath", s, err)
		}
	})
}
