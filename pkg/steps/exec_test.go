package steps_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/steps"
)

func TestExec(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		config    map[string]any
		want      any
		errCode   string // Classify(err).Code when an error is expected
		errSubstr string
		check     func(t *testing.T, err error)
	}{
		{
			name:   "output document",
			config: map[string]any{"command": []any{"sh", "-c", `cat >/dev/null; echo '{"output": {"a": 1}}'`}},
			want:   map[string]any{"a": 1.0},
		},
		{
			name:   "bare value, shell form",
			config: map[string]any{"command": `echo '[1, "two"]'`},
			want:   []any{1.0, "two"},
		},
		{
			name:   "empty stdout is null",
			config: map[string]any{"command": "true"},
			want:   nil,
		},
		{
			name:   "env and dir",
			config: map[string]any{"command": `printf '{"v": "%s", "d": "%s"}' "$STEP_V" "$(basename "$PWD")"`, "env": map[string]any{"STEP_V": 7.0}, "dir": "/tmp"},
			want:   map[string]any{"v": "7", "d": "tmp"},
		},
		{
			name:      "error document, not retryable",
			config:    map[string]any{"command": `echo '{"error": {"message": "bad input", "type": "ValueError", "retryable": false}}'; exit 1`},
			errCode:   steps.CodeNonRetryable,
			errSubstr: "ValueError: bad input",
			check: func(t *testing.T, err error) {
				t.Helper()
				se, ok := errors.AsType[*steps.ScriptError](err)
				require.True(t, ok)
				require.Equal(t, 1, se.ExitCode)
				require.Equal(t, "ValueError", se.Type)
			},
		},
		{
			name:      "error document with exit 0 and retry_after",
			config:    map[string]any{"command": `echo '{"error": {"message": "slow down", "retry_after": 1.5}}'`},
			errCode:   steps.CodeRetryAfter,
			errSubstr: "slow down",
		},
		{
			name:      "error document defaults to retryable",
			config:    map[string]any{"command": `echo '{"error": {"message": "flaky"}}'; exit 3`},
			errCode:   steps.CodeError,
			errSubstr: "flaky",
		},
		{
			name:      "non-zero exit without document",
			config:    map[string]any{"command": `echo oops >&2; exit 2`},
			errCode:   steps.CodeError,
			errSubstr: "exit status 2",
			check: func(t *testing.T, err error) {
				t.Helper()
				se, ok := errors.AsType[*steps.ScriptError](err)
				require.True(t, ok)
				require.Equal(t, "oops", se.Stderr)
			},
		},
		{
			name:      "output document with non-zero exit fails",
			config:    map[string]any{"command": `echo '{"output": 1}'; exit 1`},
			errCode:   steps.CodeError,
			errSubstr: "exit status 1",
		},
		{
			name:      "stdout not JSON",
			config:    map[string]any{"command": `echo hello`},
			errCode:   steps.CodeNonRetryable,
			errSubstr: "not JSON",
		},
		{
			name:      "timeout",
			config:    map[string]any{"command": `sleep 30`, "timeout": "50ms"},
			errCode:   steps.CodeTimeout,
			errSubstr: "deadline exceeded",
		},
		{
			name:      "missing command",
			config:    map[string]any{},
			errCode:   steps.CodeNonRetryable,
			errSubstr: "command is required",
		},
		{
			name:      "missing binary",
			config:    map[string]any{"command": []any{"/nonexistent/bin"}},
			errCode:   steps.CodeNonRetryable,
			errSubstr: "start",
		},
		{
			name:      "bad env",
			config:    map[string]any{"command": "true", "env": []any{"A=1"}},
			errCode:   steps.CodeNonRetryable,
			errSubstr: "env",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := &steps.Input{StepID: "x", Attempt: 1, Config: tt.config, Logger: newRecorder(t, "").Logger()}
			out, err := steps.Exec(steps.ExecConfig{}).Run(t.Context(), in)
			if tt.errCode != "" {
				require.Error(t, err)
				require.ErrorContains(t, err, tt.errSubstr)
				require.Equal(t, tt.errCode, steps.Classify(err).Code)
				if tt.check != nil {
					tt.check(t, err)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, out.Data)
		})
	}
}

func TestExecStdinDocument(t *testing.T) {
	t.Parallel()

	in := &steps.Input{
		RunID: "r1", StepID: "s1", Iteration: 2, Attempt: 3, Class: "exec", Module: "m",
		IdempotencyKey: "k", Data: map[string]any{"a": 1.0}, Inputs: map[string]any{"b": 2.0},
		Config: map[string]any{"command": "cat"},
	}
	out, err := steps.Exec(steps.ExecConfig{}).Run(t.Context(), in)
	require.NoError(t, err)
	require.Equal(t, map[string]any{
		"run_id": "r1", "step_id": "s1", "iteration": 2.0, "attempt": 3.0, "step_class": "exec",
		"module": "m", "idempotency_key": "k", "data": map[string]any{"a": 1.0},
		"inputs": map[string]any{"b": 2.0}, "config": map[string]any{"command": "cat"},
	}, out.Data)
}

func TestExecStderrLogged(t *testing.T) {
	t.Parallel()

	rec := newRecorder(t, "")
	var levels []slog.Level
	cmd := `echo 'plain line' >&2; echo 'WARNING careful' >&2; printf 'no newline' >&2; echo 1`
	out, err := steps.Exec(steps.ExecConfig{}).Run(t.Context(), &steps.Input{
		Config: map[string]any{"command": cmd}, Logger: rec.Logger(),
	})
	require.NoError(t, err)
	require.Equal(t, 1.0, out.Data)
	require.Equal(t, []string{"plain line", "WARNING careful", "no newline"}, rec.Lines())
	rec.mu.Lock()
	levels = append(levels, *rec.levels...)
	rec.mu.Unlock()
	require.Equal(t, []slog.Level{slog.LevelInfo, slog.LevelWarn, slog.LevelInfo}, levels)
}

func TestExecOutputLimit(t *testing.T) {
	t.Parallel()

	_, err := steps.Exec(steps.ExecConfig{MaxOutputBytes: 10}).Run(t.Context(), &steps.Input{
		Config: map[string]any{"command": `head -c 100000 /dev/zero | tr '\0' 'x'`},
	})
	require.ErrorContains(t, err, "exceeds 10 bytes")
	require.False(t, steps.Classify(err).Retryable)
}

// processGone reports whether pid has exited (a zombie counts: it runs
// nothing, and in a container nobody may reap it).
func processGone(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(rest, "Z")
}

// childPID finds the "child <pid>" line a test script printed.
func childPID(t *testing.T, lines []string) int {
	t.Helper()
	for _, l := range lines {
		if s, ok := strings.CutPrefix(l, "child "); ok {
			pid, err := strconv.Atoi(s)
			require.NoError(t, err)
			return pid
		}
	}
	t.Fatalf("no child pid in %q", lines)
	return 0
}

func TestExecCancelKillsProcessGroup(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc")
	}

	rec := newRecorder(t, "started")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		select {
		case <-rec.lineSeen:
			cancel()
		case <-ctx.Done():
		}
	}()
	_, err := steps.Exec(steps.ExecConfig{}).Run(ctx, &steps.Input{
		Config: map[string]any{"command": `sleep 300 & echo "child $!" >&2; echo started >&2; wait`},
		Logger: rec.Logger(),
	})
	require.ErrorIs(t, err, context.Canceled)
	pid := childPID(t, rec.Lines())
	// Polling: nothing signals a process's death to a non-parent.
	require.Eventually(t, func() bool { return processGone(pid) }, 10*time.Second, 10*time.Millisecond)
}

func TestExecKillsLeftoversAfterExit(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc")
	}

	rec := newRecorder(t, "")
	start := time.Now()
	// The background sleep keeps stdout open after sh exits; without the
	// group kill, Run would wait WaitDelay (a minute) for the pipe.
	out, err := steps.Exec(steps.ExecConfig{WaitDelay: time.Minute}).Run(t.Context(), &steps.Input{
		Config: map[string]any{"command": `sleep 300 & echo "child $!" >&2; echo '{"output": "done"}'`},
		Logger: rec.Logger(),
	})
	require.NoError(t, err)
	require.Equal(t, "done", out.Data)
	require.Less(t, time.Since(start), 30*time.Second)
	pid := childPID(t, rec.Lines())
	require.Eventually(t, func() bool { return processGone(pid) }, 10*time.Second, 10*time.Millisecond)
}

func TestExecCancelledBeforeStart(t *testing.T) {
	t.Parallel()

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := steps.Exec(steps.ExecConfig{}).Run(ctx, &steps.Input{Config: map[string]any{"command": "true"}})
	require.ErrorIs(t, err, context.Canceled)
	require.True(t, steps.Classify(err).Retryable)
}
