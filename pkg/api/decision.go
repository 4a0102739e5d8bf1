package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// FieldError says which decision field is wrong and why.
type FieldError struct {
	Field   string // "decision" or "decision.NAME"
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// uiField is one field of a ui_schema form.
type uiField struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
	Options  []any  `json:"options"`
}

// defaultFields is the form of a task without ui_schema fields: one required
// textarea named "response" (as in IA Modules' HITLManager).
var defaultFields = []uiField{{Name: "response", Type: "textarea", Required: true}}

// ValidateDecision checks a decision against a task's ui_schema: it must be
// a JSON object whose keys are the schema's field names (unknown keys are
// rejected), each value of the field's type (radio, select: one of the
// options; text, textarea: a string; checkbox: a boolean, or with options a
// list of them; number: a number), and every required field present and
// non-empty. A schema without fields means one required "response" textarea.
func ValidateDecision(uiSchema, decision json.RawMessage) *FieldError {
	fields, err := formFields(uiSchema)
	if err != nil {
		return &FieldError{Field: "decision", Message: err.Error()}
	}
	raw := bytes.TrimSpace(decision)
	if len(raw) == 0 || raw[0] != '{' {
		return &FieldError{Field: "decision", Message: "decision must be a JSON object"}
	}
	var values map[string]json.RawMessage
	if err := json.Unmarshal(raw, &values); err != nil {
		return &FieldError{Field: "decision", Message: "decision must be a JSON object: " + err.Error()}
	}
	byName := map[string]uiField{}
	for _, f := range fields {
		byName[f.Name] = f
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		f, ok := byName[k]
		if !ok {
			names := make([]string, 0, len(fields))
			for _, f := range fields {
				names = append(names, f.Name)
			}
			return &FieldError{Field: "decision." + k, Message: fmt.Sprintf("unknown field %q (the form has %s)", k, strings.Join(names, ", "))}
		}
		if err := checkValue(f, values[k]); err != nil {
			return &FieldError{Field: "decision." + k, Message: err.Error()}
		}
	}
	for _, f := range fields {
		v, ok := values[f.Name]
		if f.Required && (!ok || empty(v)) {
			return &FieldError{Field: "decision." + f.Name, Message: fmt.Sprintf("%s is required", f.Name)}
		}
	}
	return nil
}

func formFields(uiSchema json.RawMessage) ([]uiField, error) {
	raw := bytes.TrimSpace(uiSchema)
	if len(raw) == 0 || string(raw) == "null" {
		return defaultFields, nil
	}
	var s struct {
		Fields []uiField `json:"fields"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("the task's ui_schema is unusable: %w", err)
	}
	if len(s.Fields) == 0 {
		return defaultFields, nil
	}
	return s.Fields, nil
}

// options returns a field's allowed values: options are [{value, label}]
// or plain strings.
func (f uiField) options() []string {
	var out []string
	for _, o := range f.Options {
		switch o := o.(type) {
		case string:
			out = append(out, o)
		case map[string]any:
			if v, ok := o["value"]; ok {
				out = append(out, fmt.Sprint(v))
			}
		default:
			out = append(out, fmt.Sprint(o))
		}
	}
	return out
}

func checkValue(f uiField, raw json.RawMessage) error {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	if v == nil {
		if f.Required {
			return fmt.Errorf("%s is required", f.Name)
		}
		return nil
	}
	opts := f.options()
	switch f.Type {
	case "radio", "select":
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("must be a string, one of %s", strings.Join(opts, ", "))
		}
		if len(opts) > 0 && !slices.Contains(opts, s) {
			return fmt.Errorf("%q is not one of %s", s, strings.Join(opts, ", "))
		}
	case "text", "textarea", "":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("must be a string")
		}
	case "checkbox":
		if len(opts) == 0 {
			if _, ok := v.(bool); !ok {
				return fmt.Errorf("must be true or false")
			}
			return nil
		}
		l, ok := v.([]any)
		if !ok {
			return fmt.Errorf("must be a list of %s", strings.Join(opts, ", "))
		}
		for _, e := range l {
			s, ok := e.(string)
			if !ok || !slices.Contains(opts, s) {
				return fmt.Errorf("%v is not one of %s", e, strings.Join(opts, ", "))
			}
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return fmt.Errorf("must be a number")
		}
	}
	return nil
}

func empty(raw json.RawMessage) bool {
	s := string(bytes.TrimSpace(raw))
	return s == "null" || s == `""` || s == "[]"
}
