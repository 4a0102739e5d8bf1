package steps

import (
	"context"
	"fmt"
	"maps"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// Transform returns the "transform" handler. config.expression is an
// expr-lang expression (https://expr-lang.org) evaluated over an env holding
// the keys of in.Data at top level, then input and data (both in.Data),
// inputs (in.Inputs) and config (in.Config), which win over data keys of the
// same name. Its result is the output: a map is merged into the blackboard,
// as for any step.
//
//	{"expression": "{'total': price * qty, 'big': price * qty > 100}"}
//
// Compile and evaluation errors are [NonRetryable] and name the expression:
// the same expression over the same data fails the same way.
func Transform() Handler {
	return &transform{programs: make(map[string]*vm.Program)}
}

// transformCacheMax bounds the compiled-program cache; expressions come from
// pipeline JSON, so the set is small, but templated configs could vary.
const transformCacheMax = 1024

type transform struct {
	mu       sync.Mutex
	programs map[string]*vm.Program
}

func (t *transform) Run(_ context.Context, in *Input) (*Output, error) {
	src, ok, err := configString(in.Config, "expression")
	if err != nil {
		return nil, NonRetryable(err)
	}
	if !ok || src == "" {
		return nil, NonRetryable(fmt.Errorf("%w: transform %q: config.expression is required", ErrInvalidConfig, in.StepID))
	}
	prog, err := t.compile(src)
	if err != nil {
		return nil, NonRetryable(fmt.Errorf("steps: transform %q: compile %q: %w", in.StepID, src, err))
	}
	env := make(map[string]any, len(in.Data)+4)
	maps.Copy(env, in.Data)
	env["input"] = in.Data
	env["data"] = in.Data
	env["inputs"] = in.Inputs
	env["config"] = in.Config
	res, err := expr.Run(prog, env)
	if err != nil {
		return nil, NonRetryable(fmt.Errorf("steps: transform %q: evaluate %q: %w", in.StepID, src, err))
	}
	return &Output{Data: res}, nil
}

func (t *transform) compile(src string) (*vm.Program, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.programs[src]; ok {
		return p, nil
	}
	// No expr.Env: the env is a map whose keys vary per run, so unknown
	// names must evaluate to nil rather than fail to compile.
	p, err := expr.Compile(src)
	if err != nil {
		return nil, err
	}
	if len(t.programs) >= transformCacheMax {
		clear(t.programs)
	}
	t.programs[src] = p
	return p, nil
}
