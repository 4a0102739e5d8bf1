package dag

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// Condition compile errors. Each is wrapped with detail naming the offending
// key or value; test with errors.Is.
var (
	// ErrUnknownConditionType means the "type" of a condition object is not
	// one this engine evaluates.
	ErrUnknownConditionType = errors.New("unknown condition type")
	// ErrUnknownOperator means an expression or threshold operator is not
	// one this engine evaluates.
	ErrUnknownOperator = errors.New("unknown operator")
	// ErrBadCondition means a condition is malformed: a wrong JSON type, a
	// missing required key, a bad path, template, regex or expression, or an
	// unregistered function.
	ErrBadCondition = errors.New("bad condition")
)

// Functions holds the named predicates a {"type": "function"} condition can
// call. params is the condition's config.parameters with templates resolved.
// An error makes the condition false.
type Functions map[string]func(s Scope, params map[string]any) (bool, error)

// ConditionOptions configures CompileCondition. A nil *ConditionOptions
// accepts any function name (such conditions evaluate to false); a non-nil
// one requires the name to be in Functions.
type ConditionOptions struct {
	// Functions are the predicates available to "function" conditions.
	Functions Functions
}

// Condition is an edge condition compiled once at load time. It is
// immutable and safe for concurrent use. A nil *Condition is "always".
type Condition struct {
	kind  string
	label string
	refs  [][]string
	eval  func(Scope) bool
}

// Kind returns the condition's kind: "always", "else", "expression",
// "threshold", "parameter", "field_equals", "field_exists",
// "field_greater_than", "field_less_than", "expr", "router", "success",
// "function", "all", "any" or "not".
func (c *Condition) Kind() string {
	if c == nil {
		return kindAlways
	}
	return c.kind
}

// IsElse reports whether this is an "else" edge, which the decider takes
// when no sibling condition holds.
func (c *Condition) IsElse() bool { return c != nil && c.kind == kindElse }

// Refs returns the paths the condition reads, for validation. For native
// expressions these are the identifiers and their static member chains.
func (c *Condition) Refs() [][]string {
	if c == nil {
		return nil
	}
	return clonePaths(c.refs)
}

// String returns a short human label, e.g. "review_content.approved ==
// false" or "quality_score >= {{ parameters.threshold }}".
func (c *Condition) String() string {
	if c == nil {
		return kindAlways
	}
	return c.label
}

// Eval evaluates the condition against s. It never panics: a type mismatch,
// a missing value or a runtime error gives false. An "else" condition
// evaluates to false on its own; the decider handles it through IsElse.
func (c *Condition) Eval(s Scope) (ok bool) {
	if c == nil {
		return true
	}
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return c.eval(s)
}

const (
	kindAlways = "always"
	kindElse   = "else"
)

// CompileCondition compiles a decoded JSON condition: nil, a string or a
// map[string]any. Errors wrap ErrUnknownConditionType, ErrUnknownOperator
// or ErrBadCondition.
//
// Strings: "" and "always" (always), "else", "parameter:NAME" (truthiness of
// parameters.NAME) and any other string as an expr-lang expression that must
// yield a bool. Objects: no "type" is always; otherwise see the package
// documentation of each kind.
func CompileCondition(raw any, opts *ConditionOptions) (c *Condition, err error) {
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, fmt.Errorf("%w: %v", ErrBadCondition, r)
		}
	}()
	return compileCondition(raw, opts, true)
}

func compileCondition(raw any, opts *ConditionOptions, top bool) (*Condition, error) {
	switch x := raw.(type) {
	case nil:
		return alwaysCondition(), nil
	case string:
		return compileString(x, top)
	case map[string]any:
		return compileObject(x, opts, top)
	}
	return nil, fmt.Errorf("%w: condition must be a string or an object, got %s", ErrBadCondition, jsonType(raw))
}

func alwaysCondition() *Condition {
	return &Condition{kind: kindAlways, label: kindAlways, eval: func(Scope) bool { return true }}
}

func elseCondition(top bool) (*Condition, error) {
	if !top {
		return nil, fmt.Errorf("%w: \"else\" is only allowed as a whole edge condition", ErrBadCondition)
	}
	return &Condition{kind: kindElse, label: kindElse, eval: func(Scope) bool { return false }}, nil
}

func compileString(s string, top bool) (*Condition, error) {
	t := strings.TrimSpace(s)
	switch {
	case t == "" || strings.EqualFold(t, kindAlways):
		return alwaysCondition(), nil
	case strings.EqualFold(t, kindElse):
		return elseCondition(top)
	case strings.HasPrefix(t, "parameter:"):
		return parameterCondition(strings.TrimPrefix(t, "parameter:"))
	}
	return compileExpr(t)
}

func compileObject(m map[string]any, opts *ConditionOptions, top bool) (*Condition, error) {
	rawType, ok := m["type"]
	if !ok || rawType == nil {
		return alwaysCondition(), nil
	}
	typ, ok := rawType.(string)
	if !ok {
		return nil, fmt.Errorf("%w: \"type\" must be a string, got %s", ErrBadCondition, jsonType(rawType))
	}
	o, err := newObj(m)
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(strings.TrimSpace(typ)) {
	case kindAlways:
		return alwaysCondition(), nil
	case kindElse:
		return elseCondition(top)
	case "expression":
		return o.expression()
	case "threshold_condition", "threshold":
		return o.threshold()
	case "parameter":
		name, ok := o.get("parameter", "name")
		if !ok {
			return nil, fmt.Errorf("%w: parameter condition needs config.parameter", ErrBadCondition)
		}
		s, ok := name.(string)
		if !ok {
			return nil, fmt.Errorf("%w: config.parameter must be a string, got %s", ErrBadCondition, jsonType(name))
		}
		return parameterCondition(s)
	case "field_equals":
		return o.field("field_equals", "==")
	case "field_greater_than":
		return o.field("field_greater_than", ">")
	case "field_less_than":
		return o.field("field_less_than", "<")
	case "field_exists":
		return o.fieldExists()
	case "expr":
		src, ok := o.get("expression", "expr", "source")
		s, isStr := src.(string)
		if !ok || !isStr || strings.TrimSpace(s) == "" {
			return nil, fmt.Errorf("%w: expr condition needs a non-empty string \"expression\"", ErrBadCondition)
		}
		return compileExpr(strings.TrimSpace(s))
	case "condition", "router":
		return o.router(), nil
	case "success":
		return successCondition(), nil
	case "function":
		return o.function(opts)
	case "all", "any":
		return o.group(strings.ToLower(strings.TrimSpace(typ)), opts)
	case "not":
		return o.not(opts)
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownConditionType, clip(typ))
}

// obj reads keys from a condition object's "config", then its top level.
type obj struct {
	m, cfg map[string]any
}

func newObj(m map[string]any) (obj, error) {
	o := obj{m: m}
	switch cfg := m["config"].(type) {
	case nil:
	case map[string]any:
		o.cfg = cfg
	default:
		return o, fmt.Errorf("%w: \"config\" must be an object, got %s", ErrBadCondition, jsonType(cfg))
	}
	return o, nil
}

func (o obj) get(keys ...string) (any, bool) {
	for _, k := range keys {
		if v, ok := o.cfg[k]; ok {
			return v, true
		}
		if v, ok := o.m[k]; ok {
			return v, true
		}
	}
	return nil, false
}

func (o obj) description() string {
	if d, ok := o.get("description"); ok {
		if s, ok := d.(string); ok {
			return strings.TrimSpace(s)
		}
	}
	return ""
}

// path reads a required field path under one of keys.
func (o obj) path(kind string, keys ...string) ([]string, string, error) {
	v, ok := o.get(keys...)
	if !ok {
		return nil, "", fmt.Errorf("%w: %s condition needs %q", ErrBadCondition, kind, keys[0])
	}
	s, ok := v.(string)
	if !ok {
		return nil, "", fmt.Errorf("%w: %s %q must be a string, got %s", ErrBadCondition, kind, keys[0], jsonType(v))
	}
	p, err := fieldPath(s)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %s %q: %w", ErrBadCondition, kind, keys[0], err)
	}
	return p, strings.TrimSpace(s), nil
}

// fieldPath splits a source/field path; a path written as a single
// reference ("{steps.a.output.x}", "{{ x }}") is accepted too.
func fieldPath(s string) ([]string, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "{") {
		if tmpl, err := ParseTemplate(t, TemplatesBoth); err == nil && len(tmpl.whole) == 1 {
			return slices.Clone(tmpl.whole[0]), nil
		}
	}
	return SplitPath(t)
}

func (o obj) expression() (*Condition, error) {
	path, src, err := o.path("expression", "source")
	if err != nil {
		return nil, err
	}
	opName := "equals"
	if v, ok := o.get("operator"); ok && v != nil {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%w: operator must be a string, got %s", ErrBadCondition, jsonType(v))
		}
		opName = s
	}
	value, _ := o.get("value")
	return comparison("expression", path, src, opName, value)
}

func (o obj) threshold() (*Condition, error) {
	path, src, err := o.path("threshold", "field", "field_path")
	if err != nil {
		return nil, err
	}
	opName := ">="
	if v, ok := o.get("operator"); ok && v != nil {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%w: operator must be a string, got %s", ErrBadCondition, jsonType(v))
		}
		opName = s
	}
	value, ok := o.get("value", "threshold")
	if !ok {
		return nil, fmt.Errorf("%w: threshold condition needs \"value\" or \"threshold\"", ErrBadCondition)
	}
	return comparison("threshold", path, src, opName, value)
}

func (o obj) field(kind, op string) (*Condition, error) {
	path, src, err := o.path(kind, "field", "field_path")
	if err != nil {
		return nil, err
	}
	value, ok := o.get("value")
	if !ok {
		return nil, fmt.Errorf("%w: %s condition needs \"value\"", ErrBadCondition, kind)
	}
	return comparison(kind, path, src, op, value)
}

func (o obj) fieldExists() (*Condition, error) {
	path, src, err := o.path("field_exists", "field", "field_path")
	if err != nil {
		return nil, err
	}
	return &Condition{
		kind:  "field_exists",
		label: "exists(" + src + ")",
		refs:  [][]string{path},
		eval: func(s Scope) bool {
			v, found := lookup(s, path)
			return found && v != nil
		},
	}, nil
}

func (o obj) router() *Condition {
	label := o.description()
	if label == "" {
		label = "matched"
	}
	path := []string{"result", "matched"}
	return &Condition{
		kind:  "router",
		label: label,
		refs:  [][]string{path},
		eval: func(s Scope) bool {
			v, _ := lookup(s, path)
			return Truthy(v)
		},
	}
}

func successCondition() *Condition {
	path := []string{"result", "step_error"}
	return &Condition{
		kind:  "success",
		label: "success",
		refs:  [][]string{path},
		eval: func(s Scope) bool {
			v, _ := lookup(s, path)
			return !Truthy(v)
		},
	}
}

func (o obj) function(opts *ConditionOptions) (*Condition, error) {
	v, ok := o.get("function_name", "name")
	name, isStr := v.(string)
	if !ok || !isStr || name == "" {
		return nil, fmt.Errorf("%w: function condition needs a string \"function_name\"", ErrBadCondition)
	}
	var params valueSpec
	if p, ok := o.get("parameters"); ok && p != nil {
		if _, isMap := p.(map[string]any); !isMap {
			return nil, fmt.Errorf("%w: function %q parameters must be an object, got %s", ErrBadCondition, clip(name), jsonType(p))
		}
		var err error
		if params, err = compileValue(p); err != nil {
			return nil, fmt.Errorf("%w: function %q parameters: %w", ErrBadCondition, clip(name), err)
		}
	}
	var fn func(Scope, map[string]any) (bool, error)
	if opts != nil {
		if fn = opts.Functions[name]; fn == nil {
			return nil, fmt.Errorf("%w: function %q not registered", ErrBadCondition, name)
		}
	}
	return &Condition{
		kind:  "function",
		label: name + "()",
		refs:  params.refs,
		eval: func(s Scope) bool {
			if fn == nil {
				return false
			}
			p := map[string]any{}
			if params.resolve != nil {
				if m, ok := params.resolve(s).(map[string]any); ok {
					p = maps.Clone(m) // the function may keep or change it
				}
			}
			ok, err := fn(s, p)
			return err == nil && ok
		},
	}, nil
}

func (o obj) group(kind string, opts *ConditionOptions) (*Condition, error) {
	v, ok := o.get("conditions")
	list, isList := v.([]any)
	if !ok || !isList {
		return nil, fmt.Errorf("%w: %s condition needs a \"conditions\" array", ErrBadCondition, kind)
	}
	subs := make([]*Condition, len(list))
	labels := make([]string, len(list))
	var refs [][]string
	for i, raw := range list {
		sub, err := compileCondition(raw, opts, false)
		if err != nil {
			return nil, fmt.Errorf("%s.conditions[%d]: %w", kind, i, err)
		}
		subs[i] = sub
		labels[i] = sub.label
		if sub.kind == "all" || sub.kind == "any" {
			labels[i] = "(" + sub.label + ")"
		}
		refs = append(refs, sub.refs...)
	}
	c := &Condition{kind: kind, refs: refs}
	if kind == "all" {
		c.label = cmpLabel(strings.Join(labels, " && "), "true")
		c.eval = func(s Scope) bool {
			for _, sub := range subs {
				if !sub.Eval(s) {
					return false
				}
			}
			return true
		}
		return c, nil
	}
	c.label = cmpLabel(strings.Join(labels, " || "), "false")
	c.eval = func(s Scope) bool {
		for _, sub := range subs {
			if sub.Eval(s) {
				return true
			}
		}
		return false
	}
	return c, nil
}

func cmpLabel(s, empty string) string {
	if s == "" {
		return empty
	}
	return s
}

func (o obj) not(opts *ConditionOptions) (*Condition, error) {
	raw, ok := o.get("condition")
	if !ok {
		return nil, fmt.Errorf("%w: not condition needs \"condition\"", ErrBadCondition)
	}
	sub, err := compileCondition(raw, opts, false)
	if err != nil {
		return nil, fmt.Errorf("not.condition: %w", err)
	}
	return &Condition{
		kind:  "not",
		label: "!(" + sub.label + ")",
		refs:  sub.refs,
		eval:  func(s Scope) bool { return !sub.Eval(s) },
	}, nil
}

func parameterCondition(name string) (*Condition, error) {
	name = strings.TrimSpace(name)
	segs, err := SplitPath(name)
	if err != nil {
		return nil, fmt.Errorf("%w: parameter %q: %w", ErrBadCondition, clip(name), err)
	}
	path := append([]string{"parameters"}, segs...)
	return &Condition{
		kind:  "parameter",
		label: "parameter:" + name,
		refs:  [][]string{path},
		eval: func(s Scope) bool {
			v, _ := lookup(s, path)
			return Truthy(v)
		},
	}, nil
}

// operators maps every accepted operator spelling to its canonical name.
var operators = map[string]string{
	"equals": "==", "==": "==", "eq": "==",
	"not_equals": "!=", "!=": "!=", "ne": "!=",
	"greater_than": ">", ">": ">", "gt": ">",
	"less_than": "<", "<": "<", "lt": "<",
	"greater_than_or_equal": ">=", ">=": ">=", "gte": ">=",
	"less_than_or_equal": "<=", "<=": "<=", "lte": "<=",
	"equals_ignore_case": "equals_ignore_case",
	"contains":           "contains",
	"in":                 "in",
	"not_in":             "not_in",
	"startswith":         "startswith", "starts_with": "startswith",
	"endswith": "endswith", "ends_with": "endswith",
	"regex": "regex", "matches": "regex",
}

// comparison builds source-operator-value conditions (expression,
// threshold, field_*).
func comparison(kind string, path []string, src, opName string, value any) (*Condition, error) {
	op, ok := operators[strings.ToLower(strings.TrimSpace(opName))]
	if !ok {
		return nil, fmt.Errorf("%w: %s condition on %q: %q", ErrUnknownOperator, kind, clip(src), clip(opName))
	}
	val, err := compileValue(value)
	if err != nil {
		return nil, fmt.Errorf("%w: %s condition on %q: value: %w", ErrBadCondition, kind, clip(src), err)
	}
	var re *regexp.Regexp
	if op == "regex" {
		if val.constant {
			pat, isStr := val.value.(string)
			if !isStr {
				return nil, fmt.Errorf("%w: regex value must be a string, got %s", ErrBadCondition, jsonType(val.value))
			}
			if re, err = compileAnchored(pat); err != nil {
				return nil, fmt.Errorf("%w: regex %q: %w", ErrBadCondition, clip(pat), err)
			}
		} else if _, isStr := value.(string); !isStr {
			return nil, fmt.Errorf("%w: regex value must be a string, got %s", ErrBadCondition, jsonType(value))
		}
	}
	refs := append([][]string{path}, val.refs...)
	return &Condition{
		kind:  kind,
		label: src + " " + op + " " + val.label,
		refs:  refs,
		eval: func(s Scope) bool {
			actual, _ := lookup(s, path)
			expected := val.resolve(s)
			if op == "regex" && re == nil {
				pat, ok := expected.(string)
				if !ok {
					return false
				}
				dyn, err := compileAnchored(pat)
				if err != nil {
					return false
				}
				return applyOp(op, actual, expected, dyn)
			}
			return applyOp(op, actual, expected, re)
		},
	}, nil
}

// compileAnchored compiles a pattern anchored at the start, like Python's
// re.match. The pattern is checked alone first so that it cannot escape the
// wrapping group.
func compileAnchored(pat string) (*regexp.Regexp, error) {
	if _, err := regexp.Compile(pat); err != nil {
		return nil, err
	}
	return regexp.Compile("^(?:" + pat + ")")
}

func applyOp(op string, actual, expected any, re *regexp.Regexp) bool {
	switch op {
	case "==":
		return Equal(actual, expected)
	case "!=":
		return !Equal(actual, expected)
	case ">", "<", ">=", "<=":
		c, ok := Compare(actual, expected)
		if !ok {
			return false
		}
		switch op {
		case ">":
			return c > 0
		case "<":
			return c < 0
		case ">=":
			return c >= 0
		}
		return c <= 0
	case "equals_ignore_case":
		a, okA := actual.(string)
		b, okB := expected.(string)
		if okA && okB {
			return strings.EqualFold(a, b)
		}
		return Equal(actual, expected)
	case "contains":
		found, ok := contains(actual, expected)
		return ok && found
	case "in":
		found, ok := contains(expected, actual)
		return ok && found
	case "not_in":
		found, ok := contains(expected, actual)
		return ok && !found
	case "startswith", "endswith":
		a, okA := scalarText(actual)
		b, okB := scalarText(expected)
		if !okA || !okB {
			return false
		}
		if op == "startswith" {
			return strings.HasPrefix(a, b)
		}
		return strings.HasSuffix(a, b)
	case "regex":
		a, ok := scalarText(actual)
		return ok && re != nil && re.MatchString(a)
	}
	return false
}

// contains reports whether needle is in haystack: a substring of a string,
// an element of an array or a key of an object. ok is false when haystack is
// not a container or the types cannot match.
func contains(haystack, needle any) (found, ok bool) {
	switch h := haystack.(type) {
	case string:
		n, isStr := needle.(string)
		if !isStr {
			return false, false
		}
		return strings.Contains(h, n), true
	case []any:
		for _, e := range h {
			if Equal(e, needle) {
				return true, true
			}
		}
		return false, true
	case map[string]any:
		n, isStr := needle.(string)
		if !isStr {
			return false, false
		}
		_, found := h[n]
		return found, true
	}
	return false, false
}

// scalarText renders strings, numbers and booleans as text (as Python's
// str() does for the reference's startswith/endswith/regex, but in JSON
// form); null, objects and arrays give ok=false.
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case nil, map[string]any, []any:
		return "", false
	case string:
		return x, true
	case bool:
		return RenderText(x), true
	}
	if _, ok := numberOf(v); ok {
		return RenderText(v), true
	}
	return "", false
}

// valueSpec is a condition value compiled once: a constant or a tree holding
// templates resolved at Eval (whole-value templates keep their type).
type valueSpec struct {
	constant bool
	value    any // the constant
	label    string
	refs     [][]string
	resolve  func(Scope) any
}

func compileValue(v any) (valueSpec, error) {
	constant := valueSpec{constant: true, value: v, label: valueLabel(v), resolve: func(Scope) any { return v }}
	switch x := v.(type) {
	case string:
		t, err := ParseTemplate(x, TemplatesBoth)
		if err != nil {
			return valueSpec{}, err
		}
		if t.IsLiteral() {
			return constant, nil
		}
		return valueSpec{
			label: strings.TrimSpace(x),
			refs:  t.Refs(),
			resolve: func(s Scope) any {
				out, _ := t.Eval(s)
				return out
			},
		}, nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		specs := make(map[string]valueSpec, len(x))
		var refs [][]string
		for k, e := range x {
			spec, err := compileValue(e)
			if err != nil {
				return valueSpec{}, fmt.Errorf("key %q: %w", clip(k), err)
			}
			if !spec.constant {
				keys = append(keys, k)
				specs[k] = spec
				refs = append(refs, spec.refs...)
			}
		}
		if len(keys) == 0 {
			return constant, nil
		}
		return valueSpec{
			label: valueLabel(v),
			refs:  refs,
			resolve: func(s Scope) any {
				out := make(map[string]any, len(x))
				for k, e := range x {
					out[k] = e
				}
				for _, k := range keys {
					out[k] = specs[k].resolve(s)
				}
				return out
			},
		}, nil
	case []any:
		specs := make([]valueSpec, len(x))
		var refs [][]string
		for i, e := range x {
			spec, err := compileValue(e)
			if err != nil {
				return valueSpec{}, fmt.Errorf("index %d: %w", i, err)
			}
			specs[i] = spec
			refs = append(refs, spec.refs...)
		}
		if len(refs) == 0 {
			return constant, nil
		}
		return valueSpec{
			label: valueLabel(v),
			refs:  refs,
			resolve: func(s Scope) any {
				out := make([]any, len(specs))
				for i, spec := range specs {
					out[i] = spec.resolve(s)
				}
				return out
			},
		}, nil
	}
	return constant, nil
}

// valueLabel renders a value for a label: strings quoted, the rest as
// compact JSON.
func valueLabel(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return RenderText(v)
}

// jsonType names the JSON type of v for error messages.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	if _, ok := numberOf(v); ok {
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// maxExprLen bounds a native expression. expr-lang's parser recurses once
// per nesting level, and a deep enough nesting ("((((...") overflows the
// goroutine stack, which no recover can catch.
const maxExprLen = 4096

// compileExpr compiles a native expr-lang expression.
func compileExpr(src string) (*Condition, error) {
	if len(src) > maxExprLen {
		return nil, fmt.Errorf("%w: expression of %d bytes is longer than %d", ErrBadCondition, len(src), maxExprLen)
	}
	program, err := expr.Compile(src,
		expr.Env(map[string]any{}),
		expr.AllowUndefinedVariables(),
		expr.AsBool(),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: expression %q: %w", ErrBadCondition, clip(src), err)
	}
	names, refs, callee := exprIdentifiers(program)
	if callee != "" {
		return nil, fmt.Errorf("%w: expression %q: unknown function %q", ErrBadCondition, clip(src), callee)
	}
	return &Condition{
		kind:  "expr",
		label: src,
		refs:  refs,
		eval: func(s Scope) bool {
			return runExpr(program, names, s)
		},
	}, nil
}

func runExpr(program *vm.Program, names []string, s Scope) bool {
	env := make(map[string]any, len(names))
	for _, name := range names {
		if v, found := lookup(s, []string{name}); found {
			env[name] = exprValue(v)
		}
	}
	out, err := expr.Run(program, env)
	if err != nil {
		return false
	}
	b, ok := out.(bool)
	return ok && b
}

// exprValue converts json.Number (which expr treats as a string) to int or
// float64, copying maps and slices only when they hold one.
func exprValue(v any) any {
	if !hasJSONNumber(v) {
		return v
	}
	switch x := v.(type) {
	case json.Number:
		n, ok := parseNumber(string(x))
		switch {
		case !ok:
			return string(x)
		case n.isInt:
			return int(n.i)
		}
		return n.f
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = exprValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = exprValue(e)
		}
		return out
	}
	return v
}

func hasJSONNumber(v any) bool {
	switch x := v.(type) {
	case json.Number:
		return true
	case map[string]any:
		for _, e := range x {
			if hasJSONNumber(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasJSONNumber(e) {
				return true
			}
		}
	}
	return false
}

// identCollector gathers the identifiers and static member chains of an
// expression.
type identCollector struct {
	idents  []*ast.IdentifierNode
	callees map[*ast.IdentifierNode]bool
	lets    map[string]bool
	paths   [][]string
}

func (v *identCollector) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		v.idents = append(v.idents, n)
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok {
			v.callees[id] = true
		}
	case *ast.VariableDeclaratorNode:
		v.lets[n.Name] = true
	case *ast.MemberNode:
		if p := staticPath(n); len(p) > 0 {
			v.paths = append(v.paths, p)
		}
	}
}

// exprIdentifiers returns the top-level names an expression reads from its
// environment (not member names or let variables; $env["name"] counts as
// name), the static paths it
// reads, for Refs, and the name of a called function that is not a builtin
// (the environment holds only JSON values, so such a call cannot work).
func exprIdentifiers(program *vm.Program) ([]string, [][]string, string) {
	v := &identCollector{callees: map[*ast.IdentifierNode]bool{}, lets: map[string]bool{}}
	node := program.Node()
	ast.Walk(&node, v)
	skip := func(name string) bool { return v.lets[name] || strings.HasPrefix(name, "$") }
	var names []string
	var paths [][]string
	for _, id := range v.idents {
		if v.callees[id] {
			return nil, nil, id.Value
		}
		if skip(id.Value) || slices.Contains(names, id.Value) {
			continue
		}
		names = append(names, id.Value)
		paths = append(paths, []string{id.Value})
	}
	for _, p := range v.paths {
		if p[0] == "$env" && len(p) > 1 { // $env["my-step"].x reads my-step
			p = p[1:]
			if !slices.Contains(names, p[0]) {
				names = append(names, p[0])
			}
		}
		if slices.Contains(names, p[0]) {
			paths = append(paths, p)
		}
	}
	// Keep only maximal paths: drop any path that prefixes another.
	var refs [][]string
	for i, p := range paths {
		prefix := false
		for j, q := range paths {
			if i != j && len(q) > len(p) && slices.Equal(q[:len(p)], p) {
				prefix = true
				break
			}
		}
		if !prefix && !slices.ContainsFunc(refs, func(r []string) bool { return slices.Equal(r, p) }) {
			refs = append(refs, p)
		}
	}
	return names, refs, ""
}

// staticPath returns the identifier-rooted chain of constant member names
// of n, up to the first dynamic part.
func staticPath(n ast.Node) []string {
	switch x := n.(type) {
	case *ast.IdentifierNode:
		return []string{x.Value}
	case *ast.ChainNode:
		return staticPath(x.Node)
	case *ast.MemberNode:
		base := staticPath(x.Node)
		if base == nil || x.Method {
			return base
		}
		switch p := x.Property.(type) {
		case *ast.StringNode:
			return append(base, p.Value)
		case *ast.IntegerNode:
			return append(base, strconv.Itoa(p.Value))
		}
		return base
	}
	return nil
}
