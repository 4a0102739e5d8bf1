package refsteps_test

import (
	"context"
	"encoding/json"
	"flag"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ia-modules/ia-go/examples/refsteps"
	"github.com/ia-modules/ia-go/internal/engine"
	"github.com/ia-modules/ia-go/internal/testenv"
	"github.com/ia-modules/ia-go/pkg/scheduler"
	"github.com/ia-modules/ia-go/pkg/state"
	"github.com/ia-modules/ia-go/pkg/steps"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the Go steps' results")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTimeout bounds one run. Python steps start one interpreter per
// attempt, which takes seconds on a loaded machine.
const waitTimeout = 3 * time.Minute

// referenceDir is the folder holding the IA Modules sample pipelines:
// IA_REFERENCE_DIR, else ../shared/reference/pipelines next to the repo.
// They are not part of this repository, so the tests skip without them.
func referenceDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("IA_REFERENCE_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "reference", "pipelines")
	}
	if _, err := os.Stat(filepath.Join(dir, "simple_pipeline.json")); err != nil {
		t.Skipf("reference pipelines not found in %s (set IA_REFERENCE_DIR to the folder holding simple_pipeline.json)", dir)
	}
	return dir
}

// variant is one way of running the sample steps.
type variant struct {
	name string
	cfg  func(t *testing.T) engine.Config
}

var variants = []variant{
	{"go", func(t *testing.T) engine.Config {
		reg := steps.Builtins()
		refsteps.Register(reg)
		// No Python path: a class missing from the Go registry fails the
		// run instead of quietly running its Python twin.
		return engine.Config{Registry: reg}
	}},
	{"python", func(t *testing.T) engine.Config {
		if _, err := exec.LookPath(steps.PythonDefault); err != nil {
			if testenv.InCI() {
				t.Fatalf("%s not found (CI=true: the Python variant must run): %v", steps.PythonDefault, err)
			}
			t.Skipf("%s not found: skipping the Python variant (install Python 3.8+ to run it)", steps.PythonDefault)
		}
		dir, err := filepath.Abs(filepath.Join("..", "reference_steps"))
		require.NoError(t, err)
		return engine.Config{Registry: steps.Builtins(), PythonPaths: []string{dir}}
	}},
}

type testBundle struct {
	eng      *engine.Engine
	versions map[string]string // pipeline name -> version id; written before subtests start
}

// setup opens an embedded engine (in-process NATS, SQLite under a temporary
// directory) with a scheduler and a worker, and closes it at cleanup.
func setup(t *testing.T, v variant) *testBundle {
	t.Helper()
	cfg := v.cfg(t)
	cfg.DataDir = t.TempDir()
	cfg.Scheduler, cfg.Worker = true, true
	cfg.Logger = slog.New(slog.NewTextHandler(tLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// The engine outlives the test's context: Close stops it gracefully at
	// cleanup, after the parallel subtests sharing it are done.
	ctx := context.Background()
	eng, err := engine.Open(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		stop, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		require.NoError(t, eng.Close(stop))
	})
	require.NoError(t, eng.Start(ctx))
	return &testBundle{eng: eng, versions: map[string]string{}}
}

// importPipelines imports reference pipelines once, before the subtests that
// submit them run in parallel.
func (b *testBundle) importPipelines(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if b.versions[name] != "" {
			continue
		}
		def, err := os.ReadFile(filepath.Join(referenceDir(t), name+".json"))
		require.NoError(t, err)
		pv, _, err := b.eng.Scheduler.PipelineImport(t.Context(), name, def)
		require.NoError(t, err)
		b.versions[name] = pv.ID
	}
}

// submit starts a run of an imported pipeline.
func (b *testBundle) submit(t *testing.T, pipeline string, input map[string]any) string {
	t.Helper()
	pv := b.versions[pipeline]
	require.NotEmpty(t, pv, "pipeline %s not imported", pipeline)
	run, _, err := b.eng.Scheduler.Submit(t.Context(), &scheduler.SubmitParams{PipelineVersionID: pv, Input: input, CreatedBy: "test"})
	require.NoError(t, err)
	return run.ID
}

// waitRun polls the store (nothing signals a run's end to an outside
// caller) until the run reaches one of the statuses.
func (b *testBundle) waitRun(t *testing.T, runID string, statuses ...string) *state.Run {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		run, err := b.eng.Store.RunGet(t.Context(), runID)
		require.NoError(t, err)
		for _, s := range statuses {
			if run.Status == s {
				return run
			}
		}
		switch run.Status {
		case state.RunCompleted, state.RunFailed, state.RunCancelled:
			t.Fatalf("run %s ended %s (want %v): %s", runID, run.Status, statuses, run.Error)
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s still %s after %s (want %v)", runID, run.Status, waitTimeout, statuses)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// stepStatuses returns each step's last status and the highest loop
// iteration it reached.
func (b *testBundle) stepStatuses(t *testing.T, runID string) (status map[string]string, iterations map[string]int) {
	t.Helper()
	attempts, err := b.eng.Store.StepAttemptList(t.Context(), runID)
	require.NoError(t, err)
	status, iterations = map[string]string{}, map[string]int{}
	for _, a := range attempts {
		if a.Iteration >= iterations[a.StepID] {
			iterations[a.StepID] = a.Iteration
			status[a.StepID] = a.Status
		}
	}
	return status, iterations
}

// requireGolden compares got with testdata/<name>.golden.json; -update
// rewrites the file from the Go variant.
func requireGolden(t *testing.T, v variant, name string, got json.RawMessage) {
	t.Helper()
	requireGoldenExcept(t, v, name, got, nil)
}

// requireGoldenExcept is requireGolden, except that each top-level key of
// volatile must equal one of the listed alternatives (themselves top-level
// keys of got, such as a step id) instead of its golden value. The merged
// view lays sibling branches' outputs over each other in completion order,
// so which branch wins a shared field is not fixed.
func requireGoldenExcept(t *testing.T, v variant, name string, got json.RawMessage, volatile map[string][]string) {
	t.Helper()
	if len(volatile) > 0 {
		var m map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(got, &m))
		for key, alts := range volatile {
			var options []string
			for _, alt := range alts {
				path := strings.Split(alt, ".")
				var cur any
				require.NoError(t, json.Unmarshal(m[path[0]], &cur))
				for _, p := range path[1:] {
					cur = cur.(map[string]any)[p]
				}
				b, err := json.Marshal(cur)
				require.NoError(t, err)
				options = append(options, string(b))
			}
			var val any
			require.NoError(t, json.Unmarshal(m[key], &val))
			b, err := json.Marshal(val)
			require.NoError(t, err)
			require.Contains(t, options, string(b), "top-level %q is none of %v", key, alts)
			m[key] = json.RawMessage(options[0])
		}
		var err error
		got, err = json.Marshal(m)
		require.NoError(t, err)
	}
	path := filepath.Join("testdata", name+".golden.json")
	if *update && v.name == "go" {
		var pretty any
		require.NoError(t, json.Unmarshal(got, &pretty))
		out, err := json.MarshalIndent(pretty, "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, append(out, '\n'), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(got))
}

func TestReferencePipelines(t *testing.T) {
	t.Parallel()
	referenceDir(t)

	tests := []struct {
		name     string // golden file
		pipeline string
		input    map[string]any
		steps    map[string]string // step id -> final status
		iter     map[string]int    // step id -> iterations, when > 1
		volatile map[string][]string
	}{
		{
			name: "simple_pipeline", pipeline: "simple_pipeline",
			input: map[string]any{"topic": "  AI   agents "},
			steps: map[string]string{"step1": "succeeded", "step2": "succeeded", "step3": "succeeded"},
		},
		{
			// quality 3/4 = 0.75 >= 0.5: the full branch (step3) runs.
			name: "conditional_pipeline_high", pipeline: "conditional_pipeline",
			input: map[string]any{"threshold": 0.5, "test_data": []any{1, 2, nil, 4}},
			steps: map[string]string{"step1": "succeeded", "step2": "succeeded", "step3": "succeeded", "step4": "skipped", "step5": "succeeded"},
		},
		{
			// quality 0.75 < 0.9: the basic branch (step4) runs.
			name: "conditional_pipeline_low", pipeline: "conditional_pipeline",
			input: map[string]any{"threshold": 0.9, "test_data": []any{1, 2, nil, 4}},
			steps: map[string]string{"step1": "succeeded", "step2": "succeeded", "step3": "skipped", "step4": "succeeded", "step5": "succeeded"},
		},
		{
			// Three streams of 4, 4 and 2 items; the merger sees all three.
			name: "parallel_pipeline", pipeline: "parallel_pipeline",
			input: map[string]any{"loaded_data": []any{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
			steps: map[string]string{"step1": "succeeded", "step2": "succeeded", "step3": "succeeded", "step4": "succeeded", "step5": "succeeded", "step6": "succeeded"},
			// The three streams all return processed_data: the top-level
			// copy is the last finisher's.
			volatile: map[string][]string{"processed_data": {"step2.processed_data", "step3.processed_data", "step4.processed_data"}},
		},
		{
			// draft v1 -> review 65 (rejected) -> draft v2 -> review 80 -> publish.
			name: "loop_pipeline", pipeline: "loop_pipeline",
			input: map[string]any{"topic": "Go workflow engines", "max_revisions": 3},
			steps: map[string]string{"draft_content": "succeeded", "review_content": "succeeded", "publish_content": "succeeded"},
			iter:  map[string]int{"draft_content": 2, "review_content": 2},
		},
		{
			// max_revisions 1: the first draft is published at the limit.
			name: "loop_pipeline_limit", pipeline: "loop_pipeline",
			input: map[string]any{"topic": "Go workflow engines", "max_revisions": 1},
			steps: map[string]string{"draft_content": "succeeded", "review_content": "succeeded", "publish_content": "succeeded"},
		},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, v)
			for _, tt := range tests {
				b.importPipelines(t, tt.pipeline)
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					id := b.submit(t, tt.pipeline, tt.input)
					run := b.waitRun(t, id, state.RunCompleted)
					requireGoldenExcept(t, v, tt.name, run.Output, tt.volatile)
					status, iter := b.stepStatuses(t, id)
					require.Equal(t, tt.steps, status)
					for step, n := range tt.iter {
						require.Equal(t, n, iter[step], "iterations of %s", step)
					}
				})
			}
		})
	}
}

func TestReferenceHumanInput(t *testing.T) {
	t.Parallel()
	referenceDir(t)

	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, v)
			b.importPipelines(t, "simple_hitl_pipeline")
			id := b.submit(t, "simple_hitl_pipeline", map[string]any{"items": []any{"a", "b"}})
			b.waitRun(t, id, state.RunWaiting)

			tasks, err := b.eng.Store.HumanTaskList(t.Context(), &state.HumanTaskListParams{RunID: id})
			require.NoError(t, err)
			require.Len(t, tasks, 1)
			task := tasks[0]
			require.Equal(t, "step2_human_review", task.StepID)
			require.Equal(t, "Please review the prepared data and approve or reject", task.Prompt)
			require.ElementsMatch(t, []string{"manager@company.com", "reviewer@company.com"}, task.Assignees)
			require.Contains(t, string(task.UISchema), `"Review 2 item(s)"`)

			_, err = b.eng.Scheduler.DecideHuman(t.Context(), task.ID, state.HumanDecision{
				By: "manager@company.com", Decision: json.RawMessage(`{"decision": "approve", "comments": "ship it"}`),
			})
			require.NoError(t, err)
			run := b.waitRun(t, id, state.RunCompleted)
			requireGolden(t, v, "simple_hitl_pipeline", run.Output)
		})
	}
}

type tLogWriter struct{ t testing.TB }

func (w tLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
