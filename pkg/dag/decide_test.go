package dag_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/dag"
)

func mustLoad(t *testing.T, doc string) *dag.Graph {
	t.Helper()
	g, probs := dag.Load("test.json", []byte(doc), nil)
	require.NoError(t, probs.Err())
	return g
}

// stepFunc plays a step: it gets the start action and returns an output or
// an error.
type stepFunc func(a dag.Action) (any, *dag.StepError)

// sim drives a run to its end, one action at a time in FIFO order, and
// records what happened.
type sim struct {
	t       *testing.T
	g       *dag.Graph
	st      *dag.RunState
	funcs   map[string]stepFunc
	human   map[string]any // step id -> decision
	started []string
	skipped []string
	starts  []dag.Action
	waits   []dag.Action
	cancels []dag.Action
	finish  *dag.Action
	now     time.Time
}

func newSim(t *testing.T, g *dag.Graph, input map[string]any) *sim {
	t.Helper()
	st, err := g.NewRun("run-1", input)
	require.NoError(t, err)
	return &sim{t: t, g: g, st: st, funcs: map[string]stepFunc{}, human: map[string]any{}, now: time.Unix(1_700_000_000, 0)}
}

func (s *sim) run() *sim {
	s.t.Helper()
	acts, err := s.g.Decide(s.st, dag.Event{Type: dag.EventRunStarted, At: s.now})
	require.NoError(s.t, err)
	s.drain(acts)
	return s
}

func (s *sim) drain(queue []dag.Action) {
	s.t.Helper()
	for n := 0; len(queue) > 0; n++ {
		require.Less(s.t, n, 100_000, "run does not terminate")
		a := queue[0]
		queue = queue[1:]
		var ev *dag.Event
		switch a.Kind {
		case dag.ActionStartStep:
			s.started = append(s.started, a.StepID)
			s.starts = append(s.starts, a)
			s.now = s.now.Add(time.Millisecond + a.Delay)
			out, serr := any(map[string]any{"ok": true}), (*dag.StepError)(nil)
			if f := s.funcs[a.StepID]; f != nil {
				out, serr = f(a)
			}
			if serr != nil {
				ev = &dag.Event{Type: dag.EventStepFailed, StepID: a.StepID, Iteration: a.Iteration, Attempt: a.Attempt, Error: serr, At: s.now}
			} else {
				ev = &dag.Event{Type: dag.EventStepSucceeded, StepID: a.StepID, Iteration: a.Iteration, Attempt: a.Attempt, Output: out, At: s.now}
			}
		case dag.ActionSkipStep:
			s.skipped = append(s.skipped, a.StepID)
		case dag.ActionWaitHuman:
			s.waits = append(s.waits, a)
			if dec, ok := s.human[a.StepID]; ok {
				ev = &dag.Event{Type: dag.EventHumanDecision, StepID: a.StepID, Iteration: a.Iteration, Output: dec, At: s.now}
			}
		case dag.ActionCancelStep:
			s.cancels = append(s.cancels, a)
		case dag.ActionFinishRun:
			require.Nil(s.t, s.finish, "run finished twice")
			s.finish = &a
		}
		if ev != nil {
			more, err := s.g.Decide(s.st, *ev)
			if errors.Is(err, dag.ErrStale) && s.st.Status.Terminal() {
				continue // a step finishing after the run ended
			}
			require.NoError(s.t, err)
			queue = append(queue, more...)
		}
	}
}

func TestDecideLinear(t *testing.T) {
	t.Parallel()
	g := mustLoad(t, `{"name":"lin","steps":[
		{"id":"a","step_class":"echo"},{"id":"b","step_class":"echo"},{"id":"c","step_class":"echo"}],
		"flow":{"start_at":"a","paths":[{"from":"a","to":"b"},{"from_step":"b","to_step":"c"}]}}`)
	s := newSim(t, g, map[string]any{"in": 1.0})
	s.funcs["a"] = func(a dag.Action) (any, *dag.StepError) { return map[string]any{"x": 1.0}, nil }
	s.funcs["b"] = func(a dag.Action) (any, *dag.StepError) {
		require.Equal(t, 1.0, a.Input()["x"], "b sees a's output in its merged view")
		require.Equal(t, 1.0, a.Input()["in"], "and the run input")
		return map[string]any{"y": 2.0}, nil
	}
	s.run()
	require.Equal(t, []string{"a", "b", "c"}, s.started)
	require.Equal(t, dag.RunCompleted, s.finish.Status)
	out := s.finish.Output.(map[string]any)
	require.Equal(t, 2.0, out["y"])
	require.Equal(t, map[string]any{"x": 1.0}, out["a"])
}

func TestDecideFanOutFanIn(t *testing.T) {
	t.Parallel()
	g := mustLoad(t, `{"steps":[
		{"id":"a","step_class":"e"},{"id":"b1","step_class":"e"},{"id":"b2","step_class":"e"},
		{"id":"c","step_class":"e"},{"id":"j","step_class":"e",
		 "inputs":{"from_b":"{{ b2.v }}","from_c":"{steps.c.output.v}"}}],
		"flow":{"start_at":"a","paths":[{"from":"a","to":"b1"},{"from":"a","to":"c"},
		{"from":"b1","to":"b2"},{"from":"b2","to":"j"},{"from":"c","to":"j"}]}}`)
	s := newSim(t, g, nil)
	st, err := g.NewRun("r", nil)
	require.NoError(t, err)
	acts, err := g.Decide(st, dag.Event{Type: dag.EventRunStarted})
	require.NoError(t, err)
	require.Len(t, acts, 1)
	acts, err = g.Decide(st, dag.Event{Type: dag.EventStepSucceeded, StepID: "a", Iteration: 1, Attempt: 1})
	require.NoError(t, err)
	require.Equal(t, []string{"b1", "c"}, ids(acts), "independent branches start together")
	// The join waits for both branches, including the two-step one.
	s.funcs["b2"] = func(dag.Action) (any, *dag.StepError) { return map[string]any{"v": "B"}, nil }
	s.funcs["c"] = func(dag.Action) (any, *dag.StepError) { return map[string]any{"v": "C"}, nil }
	s.funcs["j"] = func(a dag.Action) (any, *dag.StepError) {
		require.Equal(t, map[string]any{"from_b": "B", "from_c": "C"}, a.Inputs)
		return nil, nil
	}
	s.run()
	require.Equal(t, []string{"a", "b1", "c", "b2", "j"}, s.started)
	require.Equal(t, dag.RunCompleted, s.finish.Status)
}

func ids(acts []dag.Action) []string {
	var out []string
	for _, a := range acts {
		out = append(out, a.StepID)
	}
	return out
}

const conditionalDoc = `{"parameters":[{"name":"threshold","required":true}],"steps":[
	{"id":"check","step_class":"e"},
	{"id":"high","step_class":"e"},{"id":"high2","step_class":"e"},
	{"id":"low","step_class":"e"},
	{"id":"join","step_class":"e","inputs":[{"name":"data","source":"{steps.high2.output.data}|{steps.low.output.data}","required":true}]}],
	"flow":{"start_at":"check","paths":[
	{"from":"check","to":"high","condition":{"type":"threshold_condition","config":{"field":"score","operator":">=","value":"{{ parameters.threshold }}"}}},
	{"from":"check","to":"low","condition":{"type":"expression","config":{"source":"check.score","operator":"less_than","value":"{parameters.threshold}"}}},
	{"from":"high","to":"high2"},{"from":"high2","to":"join"},{"from":"low","to":"join"}]}}`

func TestDecideConditionalSkipsJoinInputs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		score    float64
		started  []string
		skipped  []string
		joinData string
	}{
		{0.9, []string{"check", "high", "high2", "join"}, []string{"low"}, "H"},
		{0.1, []string{"check", "low", "join"}, []string{"high", "high2"}, "L"},
	} {
		g := mustLoad(t, conditionalDoc)
		s := newSim(t, g, map[string]any{"threshold": 0.5})
		s.funcs["check"] = func(dag.Action) (any, *dag.StepError) { return map[string]any{"score": tc.score}, nil }
		s.funcs["high2"] = func(dag.Action) (any, *dag.StepError) { return map[string]any{"data": "H"}, nil }
		s.funcs["low"] = func(dag.Action) (any, *dag.StepError) { return map[string]any{"data": "L"}, nil }
		var joinIn any
		s.funcs["join"] = func(a dag.Action) (any, *dag.StepError) { joinIn = a.Inputs["data"]; return nil, nil }
		s.run()
		require.Equal(t, tc.started, s.started)
		require.ElementsMatch(t, tc.skipped, s.skipped, "the untaken branch is skipped down to the join")
		require.Equal(t, tc.joinData, joinIn, "{a}|{b} falls back past the skipped branch")
		require.Equal(t, dag.RunCompleted, s.finish.Status)
	}
}

func TestDecideMissingRequiredInputFailsStep(t *testing.T) {
	t.Parallel()
	g := mustLoad(t, `{"steps":[{"id":"a","step_class":"e"},{"id":"b","step_class":"e",
		"inputs":[{"name":"x","source":"{steps.a.output.nope}","required":true}]}],
		"flow":{"start_at":"a","paths":[{"from":"a","to":"b"}]}}`)
	s := newSim(t, g, nil).run()
	require.Equal(t, dag.RunFailed, s.finish.Status)
	require.Contains(t, s.finish.Error, `required input "x"`)
	require.Contains(t, s.finish.Error, `{steps.a.output.nope}`)
}

const loopDoc = `{"steps":[{"id":"draft","step_class":"e"},{"id":"review","step_class":"e"},{"id":"publish","step_class":"e"}],
	"flow":{"start_at":"draft","paths":[{"from":"draft","to":"review"},
	{"from":"review","to":"draft","condition":{"type":"expression","config":{"source":"review.approved","operator":"equals","value":false}}},
	{"from":"review","to":"publish","condition":{"type":"expression","config":{"source":"review.approved","operator":"equals","value":true}}}]},
	"loop_config":{"max_iterations":3%s},
	"outputs":{"final":"{{ draft.version }}","published":"{{ publish.ok }}"}}`

func loopSim(t *testing.T, approveAt int, policy string) *sim {
	g := mustLoad(t, sprintf(loopDoc, policy))
	s := newSim(t, g, nil)
	version := 0
	s.funcs["draft"] = func(a dag.Action) (any, *dag.StepError) {
		version++
		return map[string]any{"version": float64(version)}, nil
	}
	s.funcs["review"] = func(a dag.Action) (any, *dag.StepError) {
		return map[string]any{"approved": version >= approveAt}, nil
	}
	return s.run()
}

func TestDecideLoopWithinBound(t *testing.T) {
	t.Parallel()
	s := loopSim(t, 3, "")
	require.Equal(t, []string{"draft", "review", "draft", "review", "draft", "review", "publish"}, s.started)
	require.Equal(t, dag.RunCompleted, s.finish.Status)
	require.Equal(t, map[string]any{"final": 3.0, "published": true}, s.finish.Output, "the latest iteration's output wins")
	require.Empty(t, s.skipped, "the exit edge is not final while the loop continues")
	st, _ := s.g.Step(s.st, "draft")
	require.Equal(t, 3, st.Iteration)
}

func TestDecideLoopPastBoundFails(t *testing.T) {
	t.Parallel()
	s := loopSim(t, 4, "")
	require.Equal(t, dag.RunFailed, s.finish.Status)
	require.Contains(t, s.finish.Error, "loop_draft")
	require.Contains(t, s.finish.Error, "max_iterations 3")
	require.Equal(t, 3, count(s.started, "draft"))
}

func TestDecideLoopPastBoundExits(t *testing.T) {
	t.Parallel()
	s := loopSim(t, 99, `,"on_max_iterations":"exit"`)
	require.Equal(t, dag.RunCompleted, s.finish.Status)
	require.Equal(t, 3, count(s.started, "draft"))
	require.Equal(t, "publish", s.started[len(s.started)-1], "the exit edge is taken")
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

func TestDecideRetriesWithBackoff(t *testing.T) {
	t.Parallel()
	g := mustLoad(t, `{"steps":[{"id":"a","step_class":"e","config":{"error_handling":{"retry":
		{"max_attempts":4,"initial_delay":1,"max_delay":3,"exponential_base":2,"jitter":false}}}}],
		"flow":{"start_at":"a"}}`)
	s := newSim(t, g, nil)
	s.funcs["a"] = func(a dag.Action) (any, *dag.StepError) {
		if a.Attempt < 4 {
			return nil, &dag.StepError{Message: "flaky", Retryable: true}
		}
		return "done", nil
	}
	s.run()
	require.Equal(t, dag.RunCompleted, s.finish.Status)
	var delays []time.Duration
	var attempts []int
	for _, a := range s.starts {
		delays = append(delays, a.Delay)
		attempts = append(attempts, a.Attempt)
	}
	require.Equal(t, []int{1, 2, 3, 4}, attempts)
	require.Equal(t, []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second}, delays, "1s, 2s, then capped at 3s")
}

func TestDecideRetryRules(t *testing.T) {
	t.Parallel()
	doc := `{"error_handling":{"max_attempts":3,"initial_delay":0.5,"no_retry_on":["bad_input"]},
		"steps":[{"id":"a","step_class":"e"},{"id":"b","step_class":"e","error_handling":{"continue_on_error":true}}],
		"flow":{"start_at":"a","paths":[{"from":"a","to":"b"}]}}`
	for _, tc := range []struct {
		name     string
		err      dag.StepError
		attempts int
		status   dag.RunStatus
	}{
		{"retryable exhausts global attempts", dag.StepError{Message: "x", Retryable: true}, 3, dag.RunFailed},
		{"non-retryable fails at once", dag.StepError{Message: "x", Retryable: false}, 1, dag.RunFailed},
		{"no_retry_on code wins", dag.StepError{Message: "x", Retryable: true, Code: "bad_input"}, 1, dag.RunFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSim(t, mustLoad(t, doc), nil)
			e := tc.err
			s.funcs["a"] = func(dag.Action) (any, *dag.StepError) { return nil, &e }
			s.run()
			require.Equal(t, tc.attempts, len(s.started))
			require.Equal(t, tc.status, s.finish.Status)
			require.Contains(t, s.finish.Error, `step "a" failed after`)
		})
	}
	t.Run("continue_on_error routes an error record", func(t *testing.T) {
		t.Parallel()
		s := newSim(t, mustLoad(t, doc), nil)
		s.funcs["b"] = func(dag.Action) (any, *dag.StepError) { return nil, &dag.StepError{Message: "boom"} }
		s.run()
		require.Equal(t, dag.RunCompleted, s.finish.Status)
		out := s.finish.Output.(map[string]any)
		require.Equal(t, true, out["step_error"])
		require.Equal(t, "boom", out["error_message"])
	})
	t.Run("retry_after is a floor", func(t *testing.T) {
		t.Parallel()
		s := newSim(t, mustLoad(t, doc), nil)
		s.funcs["a"] = func(a dag.Action) (any, *dag.StepError) {
			if a.Attempt == 1 {
				return nil, &dag.StepError{Message: "429", Retryable: true, RetryAfter: time.Minute}
			}
			return nil, nil
		}
		s.run()
		require.Equal(t, time.Minute, s.starts[1].Delay)
	})
}

func TestDecideCancel(t *testing.T) {
	t.Parallel()
	g := mustLoad(t, `{"steps":[{"id":"a","step_class":"e"},{"id":"b","step_class":"e"},{"id":"c","step_class":"e"}],
		"flow":{"start_at":"a","paths":[{"from":"a","to":"b"},{"from":"a","to":"c"}]}}`)
	st, err := g.NewRun("r", nil)
	require.NoError(t, err)
	_, err = g.Decide(st, dag.Event{Type: dag.EventRunStarted})
	require.NoError(t, err)
	_, err = g.Decide(st, dag.Event{Type: dag.EventStepSucceeded, StepID: "a", Iteration: 1, Attempt: 1})
	require.NoError(t, err)
	acts, err := g.Decide(st, dag.Event{Type: dag.EventCancelRequested, Reason: "user asked"})
	require.NoError(t, err)
	require.Equal(t, []string{"b", "c", ""}, ids(acts))
	require.Equal(t, dag.ActionCancelStep, acts[0].Kind)
	require.Equal(t, dag.ActionFinishRun, acts[2].Kind)
	require.Equal(t, dag.RunCancelled, st.Status)
	// A late completion of a cancelled step changes nothing.
	_, err = g.Decide(st, dag.Event{Type: dag.EventStepSucceeded, StepID: "b", Iteration: 1, Attempt: 1})
	require.ErrorIs(t, err, dag.ErrStale)
	// Resume restarts the cancelled steps and keeps a's output.
	acts, err = g.Decide(st, dag.Event{Type: dag.EventResumeRequested})
	require.NoError(t, err)
	require.Equal(t, []string{"b", "c"}, ids(acts))
	require.Equal(t, 2, acts[0].Iteration)
	for _, id := range []string{"b", "c"} {
		_, err = g.Decide(st, dag.Event{Type: dag.EventStepSucceeded, StepID: id, Iteration: 2, Attempt: 1})
		require.NoError(t, err)
	}
	require.Equal(t, dag.RunCompleted, st.Status)
	a, _ := g.Step(st, "a")
	require.Equal(t, 1, a.Iteration, "a completed step is never re-run on resume")
}

func TestDecideDuplicateEventsAreStale(t *testing.T) {
	t.Parallel()
	g := mustLoad(t, `{"steps":[{"id":"a","step_class":"e"},{"id":"b","step_class":"e"}],
		"flow":{"start_at":"a","paths":[{"from":"a","to":"b"}]}}`)
	st, _ := g.NewRun("r", nil)
	_, _ = g.Decide(st, dag.Event{Type: dag.EventRunStarted})
	ev := dag.Event{Type: dag.EventStepSucceeded, StepID: "a", Iteration: 1, Attempt: 1}
	acts, err := g.Decide(st, ev)
	require.NoError(t, err)
	require.Equal(t, []string{"b"}, ids(acts))
	acts, err = g.Decide(st, ev)
	require.ErrorIs(t, err, dag.ErrStale, "a redelivered completion never starts successors twice")
	require.Empty(t, acts)
	_, err = g.Decide(st, dag.Event{Type: dag.EventStepSucceeded, StepID: "zz"})
	require.ErrorIs(t, err, dag.ErrUnknownStep)
}

func TestDecideEventsAheadOfTheState(t *testing.T) {
	t.Parallel()
	g := mustLoad(t, `{"steps":[{"id":"a","step_class":"e"},{"id":"b","step_class":"e"}],
		"flow":{"start_at":"a","paths":[{"from":"a","to":"b"}]}}`)
	st, _ := g.NewRun("r", nil)
	_, _ = g.Decide(st, dag.Event{Type: dag.EventRunStarted})
	for _, tc := range []struct {
		name string
		ev   dag.Event
		want error
	}{
		{"a step not started yet", dag.Event{Type: dag.EventStepSucceeded, StepID: "b", Iteration: 1, Attempt: 1}, dag.ErrAhead},
		{"a later attempt", dag.Event{Type: dag.EventStepFailed, StepID: "a", Iteration: 1, Attempt: 2}, dag.ErrAhead},
		{"a later iteration", dag.Event{Type: dag.EventStepSucceeded, StepID: "a", Iteration: 2, Attempt: 1}, dag.ErrAhead},
		{"an earlier attempt", dag.Event{Type: dag.EventStepSucceeded, StepID: "a", Iteration: 1, Attempt: 0}, dag.ErrStale},
	} {
		_, err := g.Decide(st, tc.ev)
		require.ErrorIs(t, err, tc.want, tc.name)
		if tc.want == dag.ErrAhead {
			require.NotErrorIs(t, err, dag.ErrStale, "%s: an event ahead is held, not dropped", tc.name)
		}
	}
	a, _ := g.Step(st, "a")
	require.Equal(t, dag.StepRunning, a.Status, "nothing changed")
	require.Equal(t, 1, a.Attempt)
	// Once the start is in the state, the same event applies.
	_, err := g.Decide(st, dag.Event{Type: dag.EventStepSucceeded, StepID: "a", Iteration: 1, Attempt: 1})
	require.NoError(t, err)
	_, err = g.Decide(st, dag.Event{Type: dag.EventStepSucceeded, StepID: "b", Iteration: 1, Attempt: 1})
	require.NoError(t, err)
	require.Equal(t, dag.RunCompleted, st.Status)
}

func TestDecideHumanInputAndEndMarkers(t *testing.T) {
	t.Parallel()
	doc := `{"steps":[{"id":"gen","step_class":"e"},
		{"id":"review","type":"human_input","config":{"prompt":"Approve?","ui_schema":{"fields":[{"name":"decision","type":"radio"}]},"assignees":["alice"],"timeout_seconds":60}},
		{"id":"side","step_class":"e"},{"id":"publish","step_class":"e"}],
		"flow":{"start_at":"gen","paths":[{"from":"gen","to":"review"},{"from":"gen","to":"side"},
		{"from":"review","to":"publish","condition":"result.decision == 'approve'"},
		{"from":"review","to":"end_with_failure","condition":{"type":"else"}}]}}`
	t.Run("approve", func(t *testing.T) {
		t.Parallel()
		s := newSim(t, mustLoad(t, doc), nil)
		s.human["review"] = map[string]any{"decision": "approve"}
		s.run()
		require.Len(t, s.waits, 1)
		require.Equal(t, "Approve?", s.waits[0].Human.Prompt)
		require.Equal(t, []string{"alice"}, s.waits[0].Human.Assignees)
		require.Equal(t, []string{"gen", "side", "publish"}, s.started)
		require.Equal(t, dag.RunCompleted, s.finish.Status)
	})
	t.Run("reject reaches end_with_failure", func(t *testing.T) {
		t.Parallel()
		s := newSim(t, mustLoad(t, doc), nil)
		s.human["review"] = map[string]any{"decision": "reject"}
		s.run()
		require.Equal(t, dag.RunFailed, s.finish.Status)
		require.Contains(t, s.finish.Error, "end_with_failure")
	})
	t.Run("waiting status while parked", func(t *testing.T) {
		t.Parallel()
		s := newSim(t, mustLoad(t, doc), nil)
		s.run()
		require.Nil(t, s.finish)
		require.Equal(t, dag.RunWaiting, s.st.Status, "other branches finished; only the human step is left")
	})
	t.Run("a task step asking for input pauses too", func(t *testing.T) {
		t.Parallel()
		s := newSim(t, mustLoad(t, doc), nil)
		s.funcs["side"] = func(dag.Action) (any, *dag.StepError) {
			return map[string]any{"status": "human_input_required", "prompt": "Check side"}, nil
		}
		s.human["review"] = map[string]any{"decision": "approve"}
		s.human["side"] = map[string]any{"ok": true}
		s.run()
		require.Len(t, s.waits, 2)
		require.Equal(t, "Check side", s.waits[1].Human.Prompt)
		require.Equal(t, dag.RunCompleted, s.finish.Status)
		require.Equal(t, true, s.finish.Output.(map[string]any)["ok"], "the decision becomes the step's output")
	})
}

func TestDecideRouterStep(t *testing.T) {
	t.Parallel()
	doc := `{"steps":[{"id":"work","step_class":"e"},
		{"id":"check","type":"condition","conditions":[{"field":"status","operator":"equals","value":"again","type":"value"}]},
		{"id":"done","step_class":"e"}],
		"flow":{"start_at":"work","paths":[{"from":"work","to":"check"},
		{"from":"check","to":"work","condition":{"type":"condition"}},
		{"from":"check","to":"done","condition":{"type":"else"}}]},"loop_config":{"max_iterations":5}}`
	s := newSim(t, mustLoad(t, doc), nil)
	n := 0
	s.funcs["work"] = func(dag.Action) (any, *dag.StepError) {
		n++
		if n < 3 {
			return map[string]any{"status": "again"}, nil
		}
		return map[string]any{"status": "finished"}, nil
	}
	s.run()
	require.Equal(t, []string{"work", "work", "work", "done"}, s.started, "routers run inline, no task")
	require.Equal(t, dag.RunCompleted, s.finish.Status)
}

func TestNewRunParameters(t *testing.T) {
	t.Parallel()
	g := mustLoad(t, `{"parameters":[{"name":"a","required":true},{"name":"b","default":2}],
		"steps":[{"id":"s","step_class":"e"}],"flow":{"start_at":"s"}}`)
	_, err := g.NewRun("r", map[string]any{"b": 3})
	require.ErrorIs(t, err, dag.ErrMissingParameter)
	require.Contains(t, err.Error(), `"a"`)
	st, err := g.NewRun("r", map[string]any{"a": 1})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"a": 1, "b": 2.0}, st.Params)
}

func TestDecideElseIgnoresUnconditionalSiblings(t *testing.T) {
	t.Parallel()
	g := mustLoad(t, `{"steps":[{"id":"a","step_class":"e"},{"id":"hi","step_class":"e"},{"id":"lo","step_class":"e"},{"id":"log","step_class":"e"}],
		"flow":{"start_at":"a","paths":[{"from":"a","to":"hi","condition":"result.v > 1"},
		{"from":"a","to":"lo","condition":"else"},{"from":"a","to":"log"}]}}`)
	s := newSim(t, g, nil)
	s.funcs["a"] = func(dag.Action) (any, *dag.StepError) { return map[string]any{"v": 0.0}, nil }
	s.run()
	require.Equal(t, []string{"a", "lo", "log"}, s.started)
	require.Equal(t, []string{"hi"}, s.skipped)
}

func TestDecideDeadline(t *testing.T) {
	t.Parallel()
	g := mustLoad(t, `{"timeout_seconds":30,"steps":[{"id":"a","step_class":"e"}],"flow":{"start_at":"a"}}`)
	st, err := g.NewRun("r", nil)
	require.NoError(t, err)
	_, err = g.Decide(st, dag.Event{Type: dag.EventRunStarted})
	require.NoError(t, err)
	acts, err := g.Decide(st, dag.Event{Type: dag.EventDeadlineExceeded})
	require.NoError(t, err)
	require.Equal(t, []dag.ActionKind{dag.ActionCancelStep, dag.ActionFinishRun}, []dag.ActionKind{acts[0].Kind, acts[1].Kind})
	require.Equal(t, dag.RunFailed, st.Status)
	require.Contains(t, st.Error, "timeout_seconds 30")
	_, err = g.Decide(st, dag.Event{Type: dag.EventDeadlineExceeded})
	require.ErrorIs(t, err, dag.ErrStale)

	// A resumed run has a new deadline: the old one no longer applies.
	_, err = g.Decide(st, dag.Event{Type: dag.EventResumeRequested})
	require.NoError(t, err)
	require.Equal(t, 1, st.Resumes)
	_, err = g.Decide(st, dag.Event{Type: dag.EventDeadlineExceeded})
	require.ErrorIs(t, err, dag.ErrStale, "the deadline from before the resume")
	require.Equal(t, dag.RunRunning, st.Status)
	_, err = g.Decide(st, dag.Event{Type: dag.EventDeadlineExceeded, Resumes: 1})
	require.NoError(t, err)
	require.Equal(t, dag.RunFailed, st.Status)
}

// TestDecideSelfLoop: a step that loops on itself sees its previous
// iteration's output, also after the state went through JSON (as a
// scheduler loading it from the store would).
func TestDecideSelfLoop(t *testing.T) {
	t.Parallel()
	g := mustLoad(t, `{"steps":[{"id":"a","step_class":"e"}],"flow":{"start_at":"a","paths":[
		{"from":"a","to":"a","condition":"result.n < 3"}]},"loop_config":{"max_iterations":5}}`)
	st, err := g.NewRun("r", map[string]any{"n": 0.0})
	require.NoError(t, err)
	acts, err := g.Decide(st, dag.Event{Type: dag.EventRunStarted})
	require.NoError(t, err)
	for i := 1; ; i++ {
		require.Len(t, acts, 1)
		a := acts[0]
		require.Equal(t, dag.ActionStartStep, a.Kind)
		require.Equal(t, float64(i-1), a.Input()["n"], "iteration %d sees the previous n", i)
		// Round-trip the state through JSON, dropping every cached view.
		raw, err := json.Marshal(st)
		require.NoError(t, err)
		st = &dag.RunState{}
		require.NoError(t, json.Unmarshal(raw, st))
		acts, err = g.Decide(st, dag.Event{Type: dag.EventStepSucceeded, StepID: "a", Iteration: a.Iteration, Attempt: 1,
			Output: map[string]any{"n": float64(i)}})
		require.NoError(t, err)
		if st.Status.Terminal() {
			break
		}
	}
	require.Equal(t, dag.RunCompleted, st.Status)
	require.Equal(t, 3.0, st.Output.(map[string]any)["n"])
}

// TestDecideJoinMergesBranchChanges: a join sees each branch's own changes
// over the shared view before the fork, in document order; a branch that
// did not touch a key does not revert another branch's change.
func TestDecideJoinMergesBranchChanges(t *testing.T) {
	t.Parallel()
	g := mustLoad(t, `{"steps":[{"id":"src","step_class":"e"},{"id":"b1","step_class":"e"},{"id":"b2","step_class":"e"},{"id":"j","step_class":"e"}],
		"flow":{"start_at":"src","paths":[{"from":"src","to":"b1"},{"from":"src","to":"b2"},{"from":"b1","to":"j"},{"from":"b2","to":"j"}]}}`)
	s := newSim(t, g, map[string]any{"k": "input"})
	s.funcs["src"] = func(dag.Action) (any, *dag.StepError) { return map[string]any{"k": "src", "shared": 1.0}, nil }
	s.funcs["b1"] = func(dag.Action) (any, *dag.StepError) { return map[string]any{"k": "b1", "only1": true}, nil }
	s.funcs["b2"] = func(dag.Action) (any, *dag.StepError) { return map[string]any{"only2": true}, nil }
	var seen map[string]any
	s.funcs["j"] = func(a dag.Action) (any, *dag.StepError) { seen = a.Input(); return nil, nil }
	s.run()
	require.Equal(t, "b1", seen["k"], "b2 did not touch k, so b1's change stands")
	require.Equal(t, true, seen["only1"])
	require.Equal(t, true, seen["only2"])
	require.Equal(t, 1.0, seen["shared"])
	require.Contains(t, seen, "b1")
	require.Contains(t, seen, "b2")
}

func TestReadsAncestorsOnly(t *testing.T) {
	t.Parallel()
	// a fans out to b and c, which join in d.
	const steps = `{"id":"a","step_class":"e"},{"id":"b","step_class":"e"%s},{"id":"c","step_class":"e"},{"id":"d","step_class":"e"%s}`
	const paths = `{"from":"a","to":"b"%s},{"from":"a","to":"c"},{"from":"b","to":"d"},{"from":"c","to":"d"}`
	for _, tc := range []struct {
		name          string
		b, d, toB     string
		ancestorsOnly bool
	}{
		{"no references", "", "", "", true},
		{"inputs from ancestors", `,"inputs":{"x":"{{ a.n }}"}`, `,"inputs":{"y":"{steps.b.output.m}","z":"{steps.c.output}"}`, "", true},
		{"config from a parameter", `,"config":{"k":"{{ parameters.k }}"}`, "", "", true},
		{"condition on the step's result", "", "", `,"condition":"result.n > 1"`, true},
		{"condition on an ancestor", "", "", `,"condition":{"type":"expression","config":{"source":"a.n","operator":"equals","value":1}}`, true},
		{"input from a parallel branch", `,"inputs":{"x":"{steps.c.output.n}"}`, "", "", false},
		{"input from a later step", `,"inputs":{"x":"{{ d.n }}"}`, "", "", false},
		{"condition on a parallel branch", "", "", `,"condition":{"type":"expression","config":{"source":"c.n","operator":"equals","value":1}}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc := fmt.Sprintf(`{"parameters":{"k":1},"steps":[`+steps+`],"flow":{"start_at":"a","paths":[`+paths+`]}}`, tc.b, tc.d, tc.toB)
			require.Equal(t, tc.ancestorsOnly, mustLoad(t, doc).ReadsAncestorsOnly())
		})
	}
	// In a loop, a step reads its own previous iteration, and the step
	// after it, which comes before it on the way round.
	loop := mustLoad(t, `{"steps":[{"id":"a","step_class":"e","inputs":{"prev":"{steps.a.output.n}","c":"{steps.c.output.n}"}},{"id":"c","step_class":"e"}],
		"flow":{"start_at":"a","paths":[{"from":"a","to":"c"},{"from":"c","to":"a","condition":"result.n < 3"}]},"loop_config":{"max_iterations":5}}`)
	require.True(t, loop.ReadsAncestorsOnly())
}
