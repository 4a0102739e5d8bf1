package steps_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/steps"
)

// examplesDir holds the example Python steps (module demo_steps).
const examplesDir = "../../examples/python"

func requirePython(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not on PATH; the Python step tests need it")
	}
}

func TestPythonHandler(t *testing.T) {
	t.Parallel()
	requirePython(t)

	// One cache dir shared by handlers built per subtest, so the parallel
	// subtests also race to install the shim.
	cacheDir := t.TempDir()

	tests := []struct {
		name      string
		module    string
		class     string
		config    map[string]any
		data      map[string]any
		want      any
		errCode   string
		errType   string // ScriptError.Type
		errSubstr string
		check     func(t *testing.T, out *steps.Output, rec *recorder)
	}{
		{name: "sync run", class: "SyncRunStep", data: map[string]any{"name": "ada"}, want: map[string]any{"greeting": "hello ada"}},
		{name: "async run", class: "AsyncRunStep", data: map[string]any{"value": 21}, want: map[string]any{"doubled": 42.0}},
		{name: "execute only", class: "ExecuteOnlyStep", want: map[string]any{"executed": true, "step": "s1"}},
		{name: "work only", class: "WorkOnlyStep", want: map[string]any{"worked": true}},
		{
			name: "config, data, print and services", class: "ConfiguredStep",
			config: map[string]any{"factor": 3}, data: map[string]any{"value": 2},
			want: map[string]any{"scaled": 6.0, "used_llm": false, "attempt": 1.0},
			check: func(t *testing.T, _ *steps.Output, rec *recorder) {
				t.Helper()
				lines := rec.Lines()
				require.Contains(t, lines, "this print goes to stderr, not to the protocol")
				require.Contains(t, lines, "WARNING Step.s1: scaling 2")
			},
		},
		{name: "non-dict result", class: "NonDictStep", want: []any{1.0, 2.0, 3.0}},
		{
			name: "human input", class: "ReviewStep", data: map[string]any{"name": "doc"},
			check: func(t *testing.T, out *steps.Output, _ *recorder) {
				t.Helper()
				require.True(t, steps.HumanInputRequired(out))
				require.Equal(t, "Approve doc?", out.Data.(map[string]any)["prompt"])
			},
		},
		{
			name: "value error is not retryable", class: "FailingStep", data: map[string]any{"value": 2},
			errCode: steps.CodeNonRetryable, errType: "ValueError", errSubstr: "bad value: 2",
			check: func(t *testing.T, _ *steps.Output, rec *recorder) {
				t.Helper()
				require.True(t, slices.Contains(rec.Lines(), "Traceback (most recent call last):"))
			},
		},
		{
			name: "connection error is retryable", class: "FailingStep", config: map[string]any{"kind": "connection"},
			errCode: steps.CodeError, errType: "ConnectionError", errSubstr: "refused",
		},
		{
			name: "recoverable PipelineError is retryable", class: "FailingStep", config: map[string]any{"kind": "network"},
			errCode: steps.CodeError, errType: "NetworkError", errSubstr: "flaky upstream",
		},
		{name: "missing class", class: "NoSuchStep", errCode: steps.CodeNonRetryable, errType: "PipelineError", errSubstr: "has no class"},
		{name: "missing module", module: "no_such_module", class: "X", errCode: steps.CodeNonRetryable, errType: "ModuleNotFoundError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := steps.PythonHandler(steps.PythonConfig{Paths: []string{examplesDir}, CacheDir: cacheDir})
			rec := newRecorder(t, "")
			module := tt.module
			if module == "" {
				module = "demo_steps"
			}
			out, err := h.Run(t.Context(), &steps.Input{
				RunID: "r1", StepID: "s1", Attempt: 1, Class: tt.class, Module: module,
				Config: tt.config, Data: tt.data, Logger: rec.Logger(),
			})
			if tt.errCode != "" {
				require.Error(t, err)
				require.Equal(t, tt.errCode, steps.Classify(err).Code, err.Error())
				se, ok := errors.AsType[*steps.ScriptError](err)
				require.True(t, ok)
				require.Equal(t, tt.errType, se.Type)
				require.ErrorContains(t, err, tt.errSubstr)
			} else {
				require.NoError(t, err)
				if tt.want != nil {
					require.Equal(t, tt.want, out.Data)
				}
			}
			if tt.check != nil {
				tt.check(t, out, rec)
			}
		})
	}
}

func TestPythonHandlerNoModule(t *testing.T) {
	t.Parallel()

	_, err := steps.PythonHandler(steps.PythonConfig{CacheDir: t.TempDir()}).Run(t.Context(), &steps.Input{StepID: "s", Class: "X"})
	require.ErrorIs(t, err, steps.ErrNoModule)
	require.False(t, steps.Classify(err).Retryable)
}

// An ia_modules package on the python path must not shadow the shim's.
func TestPythonHandlerShimWinsOverInstalledPackage(t *testing.T) {
	t.Parallel()
	requirePython(t)

	other := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(other, "ia_modules"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(other, "ia_modules", "__init__.py"),
		[]byte("raise ImportError('the wrong ia_modules was imported')\n"), 0o644))

	h := steps.PythonHandler(steps.PythonConfig{Paths: []string{other, examplesDir}, CacheDir: t.TempDir()})
	out, err := h.Run(t.Context(), &steps.Input{StepID: "s", Attempt: 1, Class: "SyncRunStep", Module: "demo_steps"})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"greeting": "hello world"}, out.Data)
}
