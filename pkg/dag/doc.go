// Package dag is the pure graph model of the engine: it parses pipeline
// documents in every IA Modules dialect, validates them, resolves templates,
// evaluates conditions and decides what runs next. It performs no I/O, so
// the scheduler, the embedded runner and the tests all share one decision
// function.
//
// # Loading
//
// [Parse] reads any dialect (flow.paths or flow.transitions, from/to or
// from_step/to_step, inputs as a list or a map, parameters as defaults or as
// schemas, class or step_class, string or object conditions) into one
// [Pipeline]. [Compile] checks it and builds a [Graph]; [Load] does both.
// Every problem is reported at once as a [Problem] naming the file, JSON
// path, line and column, step id, and what to do.
//
// # Templates and conditions
//
// Templates ({{ step.field }}, {parameters.x}, {steps.id.output.f},
// {pipeline_input.x}, {a}|{b}) keep the value's JSON type when they are the
// whole string. Conditions cover always, else, parameter:NAME, expression
// with every reference operator, threshold_condition, field_* forms,
// all/any/not, router edges and native expr-lang expressions, all compiled
// once at load time.
//
// # Deciding
//
// [Graph.Decide] applies one [Event] (run started, step succeeded or
// failed, human decision, cancel, resume) to a [RunState] and returns
// [Action]s (start steps with their resolved inputs, skip steps, wait for a
// human, cancel steps, finish the run). Branches fan out; a join starts when
// every incoming transition is resolved and at least one was taken; an
// untaken branch is skipped down to its joins (dead-path elimination). Back
// edges form loops bounded by loop_config. Retries follow error_handling
// with exponential backoff and deterministic jitter. Each event costs time
// proportional to the out-degree of the steps it touches, not to the size
// of the graph. Duplicate and late events return [ErrStale] and change
// nothing, so at-least-once delivery never starts a successor twice.
package dag
