package steps

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// Exec defaults.
const (
	ExecMaxOutputBytesDefault = 64 << 20
	ExecWaitDelayDefault      = 2 * time.Second
)

// ExecConfig configures [Exec] and the process side of [PythonHandler].
type ExecConfig struct {
	// Env is added to the worker's own environment for every command;
	// a step's config.env is added on top. Default none.
	Env map[string]string
	// MaxOutputBytes caps what a command may write to stdout; more fails
	// the step (not retryable). Default ExecMaxOutputBytesDefault (64 MiB).
	MaxOutputBytes int64
	// WaitDelay bounds how long to wait for the command's pipes to close
	// after it exits or is killed, when something it started escaped its
	// process group and keeps them open. Default ExecWaitDelayDefault (2s).
	WaitDelay time.Duration
}

// Exec returns the "exec" handler, which runs a command once per attempt.
//
// Config:
//   - command: an argv list (["python3", "step.py"]) or a string run with
//     /bin/sh -c;
//   - env: a map of extra environment variables;
//   - dir: the working directory (default the worker's);
//   - timeout: "30s" or seconds; the command's process group is killed when
//     it expires (the step fails with a retryable timeout).
//
// The protocol, shared with the Python shim: the command reads one JSON
// document on stdin,
//
//	{"run_id", "step_id", "attempt", "iteration", "idempotency_key",
//	 "step_class", "module", "data", "inputs", "config"}
//
// and writes one JSON document on stdout: {"output": <any>}, or
// {"error": {"message", "type", "retryable", "retry_after"}}, or any other
// JSON value, which is the output itself. Empty stdout is a null output.
// stderr is logged line by line on in.Logger. A non-zero exit fails the
// step, retryably unless the error document says "retryable": false; an
// error document fails the step whatever the exit status. When ctx ends the
// whole process group is killed, and after the command exits any process it
// left in its group is killed too, so nothing outlives the step.
func Exec(cfg ExecConfig) Handler {
	return HandlerFunc(func(ctx context.Context, in *Input) (*Output, error) {
		c, err := execCommandFromConfig(in.Config)
		if err != nil {
			return nil, NonRetryable(fmt.Errorf("steps: exec %q: %w", in.StepID, err))
		}
		return cfg.run(ctx, in, c)
	})
}

// execCommand is one command to run for one attempt.
type execCommand struct {
	argv    []string
	env     map[string]string
	dir     string
	timeout time.Duration
}

func execCommandFromConfig(cfg map[string]any) (execCommand, error) {
	var c execCommand
	switch v := cfg["command"].(type) {
	case string:
		if strings.TrimSpace(v) == "" {
			return c, fmt.Errorf("%w: command is empty", ErrInvalidConfig)
		}
		c.argv = []string{"/bin/sh", "-c", v}
	case nil:
		return c, fmt.Errorf("%w: command is required", ErrInvalidConfig)
	default:
		argv, _, err := configStrings(cfg, "command")
		if err != nil {
			return c, err
		}
		if len(argv) == 0 || argv[0] == "" {
			return c, fmt.Errorf("%w: command is empty", ErrInvalidConfig)
		}
		c.argv = argv
	}
	if raw, ok := cfg["env"]; ok && raw != nil {
		m, ok := raw.(map[string]any)
		if !ok {
			return c, fmt.Errorf("%w: env: want object, got %T", ErrInvalidConfig, raw)
		}
		c.env = make(map[string]string, len(m))
		for k, v := range m {
			if s, ok := v.(string); ok {
				c.env[k] = s
			} else {
				c.env[k] = fmt.Sprint(v)
			}
		}
	}
	var err error
	if c.dir, _, err = configString(cfg, "dir"); err != nil {
		return c, err
	}
	if c.timeout, _, err = configDuration(cfg, "timeout"); err != nil {
		return c, err
	}
	return c, nil
}

// execRequest is the stdin document.
type execRequest struct {
	RunID          string         `json:"run_id"`
	StepID         string         `json:"step_id"`
	Attempt        int            `json:"attempt"`
	Iteration      int            `json:"iteration"`
	IdempotencyKey string         `json:"idempotency_key"`
	StepClass      string         `json:"step_class"`
	Module         string         `json:"module"`
	Data           map[string]any `json:"data"`
	Inputs         map[string]any `json:"inputs"`
	Config         map[string]any `json:"config"`
}

// execErrorDoc is the "error" member of the stdout document.
type execErrorDoc struct {
	Message    string  `json:"message"`
	Type       string  `json:"type"`
	Category   string  `json:"category"`
	Retryable  *bool   `json:"retryable"`
	RetryAfter float64 `json:"retry_after"`
}

// ScriptError is a failure reported by an exec or Python step: either its
// error document, or a non-zero exit without one.
type ScriptError struct {
	// Type is the error type the script reported (a Python exception class
	// name), or "exit" for a non-zero exit without an error document.
	Type string
	// Category is the script's classification (Python: network, timeout,
	// validation, dependency, resource, unknown), if it gave one.
	Category string
	Message  string
	// ExitCode is the process exit status (0 when it exited normally).
	ExitCode int
	// Stderr is the tail of the process's stderr, for error reports.
	Stderr string
}

func (e *ScriptError) Error() string {
	if e.Type == "" {
		return e.Message
	}
	return e.Type + ": " + e.Message
}

func (cfg ExecConfig) run(ctx context.Context, in *Input, c execCommand) (*Output, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	req, err := json.Marshal(execRequest{
		RunID: in.RunID, StepID: in.StepID, Attempt: in.Attempt, Iteration: in.Iteration,
		IdempotencyKey: in.IdempotencyKey, StepClass: in.Class, Module: in.Module,
		Data: nonNil(in.Data), Inputs: nonNil(in.Inputs), Config: nonNil(in.Config),
	})
	if err != nil {
		return nil, NonRetryable(fmt.Errorf("steps: exec %q: encode request: %w", in.StepID, err))
	}

	cmd := exec.CommandContext(ctx, c.argv[0], c.argv[1:]...)
	cmd.Dir = c.dir
	cmd.Env = mergeEnv(os.Environ(), cfg.Env, c.env)
	cmd.Stdin = bytes.NewReader(req)
	setProcessGroup(cmd)
	cmd.Cancel = func() error { return killProcessGroup(cmd.Process.Pid) }
	waitDelay := cmp.Or(cfg.WaitDelay, ExecWaitDelayDefault)
	cmd.WaitDelay = waitDelay

	// Our own pipes rather than cmd.StdoutPipe: Wait then returns when the
	// process exits, and we can kill its leftover group before draining.
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("steps: exec %q: %w", in.StepID, err)
	}
	defer stdoutR.Close()
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		stdoutW.Close()
		return nil, fmt.Errorf("steps: exec %q: %w", in.StepID, err)
	}
	defer stderrR.Close()
	cmd.Stdout, cmd.Stderr = stdoutW, stderrW

	startErr := cmd.Start()
	stdoutW.Close()
	stderrW.Close()
	if startErr != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("steps: exec %q: %w", in.StepID, ctxErr)
		}
		// A missing binary will be missing next time too.
		return nil, NonRetryable(fmt.Errorf("steps: exec %q: start %q: %w", in.StepID, c.argv[0], startErr))
	}

	maxOut := cmp.Or(cfg.MaxOutputBytes, ExecMaxOutputBytesDefault)
	stdoutDone := make(chan stdoutResult, 1)
	go func() { stdoutDone <- readLimited(stdoutR, maxOut) }()
	tail := &stderrTail{}
	stderrDone := make(chan struct{})
	go func() {
		defer close(stderrDone)
		logLines(ctx, in.Log(), stderrR, tail)
	}()

	waitErr := cmd.Wait()
	_ = killProcessGroup(cmd.Process.Pid) // leftovers; the group may be gone
	deadline := time.Now().Add(waitDelay)
	_ = stdoutR.SetReadDeadline(deadline)
	_ = stderrR.SetReadDeadline(deadline)
	out := <-stdoutDone
	<-stderrDone

	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, fmt.Errorf("steps: exec %q: %w", in.StepID, ctxErr)
	}
	if out.err != nil && !errors.Is(out.err, os.ErrDeadlineExceeded) {
		return nil, fmt.Errorf("steps: exec %q: read stdout: %w", in.StepID, out.err)
	}
	if out.truncated {
		return nil, NonRetryable(fmt.Errorf("steps: exec %q: stdout exceeds %d bytes", in.StepID, maxOut))
	}
	exitCode := 0
	if waitErr != nil {
		var ee *exec.ExitError
		if !errors.As(waitErr, &ee) {
			return nil, fmt.Errorf("steps: exec %q: %w", in.StepID, waitErr)
		}
		exitCode = ee.ExitCode()
	}
	return parseExecResult(in.StepID, out.data, exitCode, tail.String())
}

// parseExecResult interprets stdout and the exit status.
func parseExecResult(stepID string, stdout []byte, exitCode int, stderr string) (*Output, error) {
	stdout = bytes.TrimSpace(stdout)
	var doc any
	docErr := error(nil)
	if len(stdout) > 0 {
		docErr = json.Unmarshal(stdout, &doc)
	}
	if docErr == nil {
		if m, ok := doc.(map[string]any); ok && len(m) == 1 {
			if errDoc, ok := m["error"].(map[string]any); ok {
				return nil, scriptErrorFromDoc(stepID, errDoc, exitCode, stderr)
			}
			if v, ok := m["output"]; ok && exitCode == 0 {
				return &Output{Data: v}, nil
			}
		}
	}
	if exitCode != 0 {
		return nil, fmt.Errorf("steps: exec %q: %w", stepID, &ScriptError{
			Type: "exit", Message: fmt.Sprintf("exit status %d", exitCode), ExitCode: exitCode, Stderr: stderr,
		})
	}
	if docErr != nil {
		return nil, NonRetryable(fmt.Errorf("steps: exec %q: stdout is not JSON: %w", stepID, docErr))
	}
	return &Output{Data: doc}, nil
}

func scriptErrorFromDoc(stepID string, m map[string]any, exitCode int, stderr string) error {
	var d execErrorDoc
	raw, _ := json.Marshal(m) // m came from JSON, so it encodes
	if err := json.Unmarshal(raw, &d); err != nil {
		return NonRetryable(fmt.Errorf("steps: exec %q: bad error document: %w", stepID, err))
	}
	var err error = fmt.Errorf("steps: step %q: %w", stepID, &ScriptError{
		Type: d.Type, Category: d.Category, Message: d.Message, ExitCode: exitCode, Stderr: stderr,
	})
	switch {
	case d.Retryable != nil && !*d.Retryable:
		err = NonRetryable(err)
	case d.RetryAfter > 0:
		err = RetryAfter(err, secondsToDuration(d.RetryAfter))
	}
	return err
}

type stdoutResult struct {
	data      []byte
	truncated bool
	err       error
}

// readLimited reads r to EOF, keeping at most limit bytes; it keeps draining
// past the limit so that the writer does not block on a full pipe.
func readLimited(r io.Reader, limit int64) stdoutResult {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, limit+1))
	res := stdoutResult{data: buf.Bytes(), err: err}
	if n > limit {
		res.truncated = true
		res.data = res.data[:limit]
		_, res.err = io.Copy(io.Discard, r)
	}
	return res
}

// stderrTailLines is how many stderr lines an exit error carries.
const stderrTailLines = 20

type stderrTail struct{ lines []string }

func (t *stderrTail) add(line string) {
	t.lines = append(t.lines, line)
	if len(t.lines) > stderrTailLines {
		t.lines = slices.Delete(t.lines, 0, len(t.lines)-stderrTailLines)
	}
}

func (t *stderrTail) String() string { return strings.Join(t.lines, "\n") }

// stderrLineMax caps one logged line; longer lines are logged in pieces.
const stderrLineMax = 64 << 10

// logLines logs each line of r. A leading Python logging level name
// ("WARNING ...") sets the slog level; everything else is Info.
func logLines(ctx context.Context, logger *slog.Logger, r io.Reader, tail *stderrTail) {
	br := bufio.NewReaderSize(r, stderrLineMax)
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			line := strings.TrimRight(string(chunk), "\r\n")
			tail.add(line)
			logger.Log(ctx, stderrLevel(line), "steps: step stderr", slog.String("line", line))
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

func stderrLevel(line string) slog.Level {
	word, _, _ := strings.Cut(line, " ")
	switch word {
	case "DEBUG":
		return slog.LevelDebug
	case "WARNING", "WARN":
		return slog.LevelWarn
	case "ERROR", "CRITICAL":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// mergeEnv appends layers of KEY=VALUE on top of base; later layers win
// because exec uses the last value of a duplicated key.
func mergeEnv(base []string, layers ...map[string]string) []string {
	env := slices.Clone(base)
	for _, l := range layers {
		for _, k := range slices.Sorted(maps.Keys(l)) {
			env = append(env, k+"="+l[k])
		}
	}
	return env
}

func nonNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
