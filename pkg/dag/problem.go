package dag

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrInvalid is wrapped by the error of a pipeline that has problems.
var ErrInvalid = errors.New("invalid pipeline")

// Severity of a problem.
type Severity string

// Severities.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Problem is one thing wrong with a pipeline, located precisely enough to fix
// without searching: file, JSON path, line and column, and step id.
type Problem struct {
	File     string   `json:"file,omitempty"`
	Path     string   `json:"path"`
	Line     int      `json:"line,omitempty"`
	Col      int      `json:"col,omitempty"`
	StepID   string   `json:"step_id,omitempty"`
	Severity Severity `json:"severity"`
	// Code is a stable identifier for the kind of problem (tests, tooling).
	Code    string `json:"code"`
	Message string `json:"message"`
	// Hint says what to do about it.
	Hint string `json:"hint,omitempty"`
}

// String renders "file:line:col: path: severity: message (step x); hint".
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		b.WriteString(":")
	}
	if p.Line > 0 {
		fmt.Fprintf(&b, "%d:%d:", p.Line, p.Col)
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(string(p.Severity))
	b.WriteString(": ")
	b.WriteString(p.Message)
	if p.StepID != "" {
		fmt.Fprintf(&b, " [step %s]", p.StepID)
	}
	if p.Hint != "" {
		b.WriteString("; ")
		b.WriteString(p.Hint)
	}
	return b.String()
}

// Problems is a list of problems, errors and warnings together.
type Problems []Problem

// Errors returns only the problems of severity error.
func (ps Problems) Errors() Problems {
	var out Problems
	for _, p := range ps {
		if p.Severity == SeverityError {
			out = append(out, p)
		}
	}
	return out
}

// HasErrors reports whether any problem is an error.
func (ps Problems) HasErrors() bool { return len(ps.Errors()) > 0 }

// Err returns nil when there is no error, and otherwise an error wrapping
// ErrInvalid that lists every error.
func (ps Problems) Err() error {
	errs := ps.Errors()
	if len(errs) == 0 {
		return nil
	}
	lines := make([]string, len(errs))
	for i, p := range errs {
		lines[i] = p.String()
	}
	return fmt.Errorf("%w: %d problem(s):\n  %s", ErrInvalid, len(errs), strings.Join(lines, "\n  "))
}

func (ps Problems) sorted() Problems {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Col < ps[j].Col
	})
	return ps
}

// reporter collects problems located against one document.
type reporter struct {
	file string
	pos  positions
	list Problems
}

func (r *reporter) add(sev Severity, path, step, code, hint, format string, args ...any) {
	line, col := r.pos.at(path)
	r.list = append(r.list, Problem{
		File: r.file, Path: path, Line: line, Col: col, StepID: step,
		Severity: sev, Code: code, Message: fmt.Sprintf(format, args...), Hint: hint,
	})
}

func (r *reporter) errorf(path, step, code, hint, format string, args ...any) {
	r.add(SeverityError, path, step, code, hint, format, args...)
}

func (r *reporter) warnf(path, step, code, hint, format string, args ...any) {
	r.add(SeverityWarning, path, step, code, hint, format, args...)
}
