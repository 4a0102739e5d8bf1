package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ia-modules/ia-go/internal/engine"
	"github.com/ia-modules/ia-go/pkg/scheduler"
	"github.com/ia-modules/ia-go/pkg/state"
)

func newRunCommand() *cobra.Command {
	var (
		input, inputFile, dataDir, dbURL, queueURL, python string
		pythonPaths                                        []string
		quiet, remote                                      bool
		decideFrom                                         string
		prefix                                             string
		timeout                                            time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Run a pipeline in this process and print its result",
		Long: "Runs the pipeline with an in-process NATS server and an embedded store (nothing to install),\n" +
			"shows each step's progress on stderr and prints the result JSON on stdout.\n" +
			"It is the same scheduler and worker code as the distributed binaries.\n" +
			"With --decide, human tasks are answered from a file or stdin, one JSON decision per line in the\n" +
			"order the tasks open (each task's prompt is shown on stderr); without it, or once the decisions\n" +
			"run out, a run waiting for a human ends the command.\n" +
			"Exit codes: 0 completed (or waiting for a human), 1 failed or cancelled, 2 invalid pipeline,\n" +
			"64 bad flags or a decision that is not JSON.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := readInput(input, inputFile)
			if err != nil {
				return usageError(err)
			}
			def, err := os.ReadFile(args[0])
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			ctx := cmd.Context()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			commitDelay, err := engine.CommitDelayEnv()
			if err != nil {
				return &ExitError{Code: ExitUsage, Err: err}
			}
			eng, err := engine.Open(ctx, engine.Config{
				DatabaseURL: firstNonEmpty(dbURL, os.Getenv("IA_DATABASE_URL")), QueueURL: firstNonEmpty(queueURL, os.Getenv("IA_QUEUE_URL")),
				DataDir: dataDir, Python: python, PythonPaths: pythonPaths, Scheduler: true, Worker: !remote,
				Prefix: firstNonEmpty(prefix, os.Getenv("IA_PREFIX")), CommitDelay: commitDelay,
			})
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: err}
			}
			defer func() {
				stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				defer cancel()
				_ = eng.Close(stop)
			}()
			slug := strings.TrimSuffix(filepath.Base(args[0]), filepath.Ext(args[0]))
			pv, _, err := eng.Scheduler.PipelineImport(ctx, slug, def)
			if err != nil {
				if errors.Is(err, scheduler.ErrInvalidInput) {
					return &ExitError{Code: ExitInvalid, Err: err}
				}
				return &ExitError{Code: ExitFailure, Err: err}
			}
			if !remote {
				if err := eng.Start(ctx); err != nil {
					return &ExitError{Code: ExitFailure, Err: err}
				}
			}
			run, _, err := eng.Scheduler.Submit(ctx, &scheduler.SubmitParams{PipelineVersionID: pv.ID, Input: in, CreatedBy: "cli"})
			if err != nil {
				if errors.Is(err, scheduler.ErrInvalidInput) {
					return &ExitError{Code: ExitInvalid, Err: err}
				}
				return &ExitError{Code: ExitFailure, Err: err}
			}
			progress := cmd.ErrOrStderr()
			if quiet {
				progress = io.Discard
			}
			fmt.Fprintf(progress, "run %s (%s)\n", run.ID, pv.Slug)
			var decisions *bufio.Scanner
			if decideFrom != "" {
				r := cmd.InOrStdin()
				if decideFrom != "-" {
					f, err := os.Open(decideFrom)
					if err != nil {
						return usageError(fmt.Errorf("--decide: %w", err))
					}
					defer f.Close()
					r = f
				}
				decisions = bufio.NewScanner(r)
				decisions.Buffer(nil, 1<<20)
			}
			w := &runWatcher{st: eng.Store, runID: run.ID, out: progress, seen: map[string]string{}}
			final, attempts, err := w.watch(ctx)
			for err == nil && final.Status == state.RunWaiting && decisions != nil {
				var decided bool
				if decided, err = decideTasks(ctx, eng, run.ID, decisions, progress); err != nil || !decided {
					break
				}
				final, attempts, err = w.watch(ctx)
			}
			if err != nil {
				var ee *ExitError
				if errors.As(err, &ee) {
					return ee
				}
				return &ExitError{Code: ExitFailure, Err: err}
			}
			out := cmd.OutOrStdout()
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			if err := enc.Encode(runResult(final, attempts)); err != nil {
				return err
			}
			switch final.Status {
			case state.RunCompleted, state.RunWaiting:
				return nil
			default:
				return &ExitError{Code: ExitFailure}
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&input, "input", "", "run input as a JSON object")
	f.StringVar(&inputFile, "input-file", "", "read the run input from a JSON file")
	f.StringSliceVar(&pythonPaths, "python-path", nil, "directory holding Python step modules (repeatable)")
	f.StringVar(&python, "python", "", "Python interpreter for Python steps (default python3)")
	f.StringVar(&dataDir, "data-dir", "", "keep embedded data here (default: a temporary directory)")
	f.StringVar(&dbURL, "database-url", "", "state store URL (postgres://... or sqlite:PATH; env IA_DATABASE_URL; default embedded)")
	f.StringVar(&queueURL, "queue-url", "", "broker URL (nats://... or redis://...; env IA_QUEUE_URL; default in-process NATS)")
	f.BoolVarP(&quiet, "quiet", "q", false, "do not show step progress")
	f.StringVar(&decideFrom, "decide", "", "answer human tasks from this file (- for stdin): one JSON decision per line, in the order the tasks open")
	f.BoolVar(&remote, "remote", false, "only submit and watch: running schedulers and workers execute the run (needs --database-url and --queue-url)")
	f.StringVar(&prefix, "prefix", "", "namespace of streams, queues and schema (env IA_PREFIX; default ia)")
	f.DurationVar(&timeout, "timeout", 0, "give up after this long (0: no limit)")
	return cmd
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func readInput(inline, file string) (map[string]any, error) {
	raw := []byte(inline)
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		raw = b
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		return map[string]any{}, nil
	}
	var in map[string]any
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, fmt.Errorf("--input must be a JSON object: %w", err)
	}
	return in, nil
}

// runWatcher prints each step transition of one run as it lands in the
// store, across the waits for human decisions.
type runWatcher struct {
	st    state.Store
	runID string
	out   io.Writer
	seen  map[string]string // attempt key -> status last printed
}

// watch returns once the run is finished or waiting for a human.
func (w *runWatcher) watch(ctx context.Context) (*state.Run, []state.StepAttempt, error) {
	st, runID, seen := w.st, w.runID, w.seen
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		run, err := st.RunGet(ctx, runID)
		if err != nil {
			return nil, nil, err
		}
		attempts, err := st.StepAttemptList(ctx, runID)
		if err != nil {
			return nil, nil, err
		}
		var fresh []state.StepAttempt
		for _, a := range attempts {
			k := fmt.Sprintf("%s/%d/%d", a.StepID, a.Iteration, a.Attempt)
			if seen[k] == a.Status {
				continue
			}
			seen[k] = a.Status
			fresh = append(fresh, a)
		}
		// Print in the order things happened, not in storage order.
		sort.SliceStable(fresh, func(i, j int) bool { return eventTime(fresh[i]).Before(eventTime(fresh[j])) })
		for _, a := range fresh {
			fmt.Fprintln(w.out, progressLine(a))
		}
		switch run.Status {
		case state.RunCompleted, state.RunFailed, state.RunCancelled, state.RunWaiting:
			fmt.Fprintf(w.out, "run %s %s", runID, run.Status)
			if run.Error != "" {
				fmt.Fprintf(w.out, ": %s", run.Error)
			}
			fmt.Fprintln(w.out)
			return run, attempts, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil, fmt.Errorf("waiting for run %s: %w", runID, ctx.Err())
		case <-tick.C:
		}
	}
}

// decideTasks answers the run's pending human tasks, oldest first, with the
// next lines of decisions, showing each task's prompt on out. It reports
// whether it decided any; false when the decisions ran out.
func decideTasks(ctx context.Context, eng *engine.Engine, runID string, decisions *bufio.Scanner, out io.Writer) (bool, error) {
	tasks, err := eng.Store.HumanTaskList(ctx, &state.HumanTaskListParams{RunID: runID, Status: state.HumanPending})
	if err != nil {
		return false, err
	}
	decided := false
	for _, t := range tasks {
		fmt.Fprintf(out, "human task %s (step %s): %s\n", t.ID, t.StepID, t.Prompt)
		if len(t.UISchema) > 0 {
			fmt.Fprintf(out, "  answer with JSON matching %s\n", t.UISchema)
		}
		fmt.Fprint(out, "decision> ")
		line := ""
		for line == "" && decisions.Scan() { // blank lines are skipped
			line = strings.TrimSpace(decisions.Text())
		}
		if line == "" {
			fmt.Fprintln(out)
			if err := decisions.Err(); err != nil {
				return decided, fmt.Errorf("--decide: %w", err)
			}
			return decided, nil
		}
		fmt.Fprintln(out, line)
		if !json.Valid([]byte(line)) {
			return decided, usageError(fmt.Errorf("--decide: decision for step %s is not JSON: %q", t.StepID, line))
		}
		if _, err := eng.Scheduler.DecideHuman(ctx, t.ID, state.HumanDecision{By: "cli", Decision: json.RawMessage(line)}); err != nil {
			return decided, fmt.Errorf("deciding human task %s: %w", t.ID, err)
		}
		decided = true
	}
	return decided, nil
}

func eventTime(a state.StepAttempt) time.Time {
	switch {
	case a.FinishedAt != nil:
		return *a.FinishedAt
	case a.StartedAt != nil:
		return *a.StartedAt
	}
	return time.Time{}
}

func progressLine(a state.StepAttempt) string {
	mark := map[string]string{"running": "started", "succeeded": "done", "failed": "FAILED", "skipped": "skipped",
		"waiting": "waiting for a human", "cancelled": "cancelled"}[a.Status]
	if mark == "" {
		mark = a.Status
	}
	line := fmt.Sprintf("  %-24s %s", a.StepID, mark)
	if a.Iteration > 1 {
		line += fmt.Sprintf(" (iteration %d)", a.Iteration)
	}
	if a.Attempt > 1 {
		line += fmt.Sprintf(" (attempt %d)", a.Attempt)
	}
	if a.StartedAt != nil && a.FinishedAt != nil {
		line += fmt.Sprintf(" in %s", a.FinishedAt.Sub(*a.StartedAt).Round(100*time.Microsecond))
	}
	if a.Error != "" {
		line += ": " + a.Error
	}
	return line
}

type stepSummary struct {
	Status   string          `json:"status"`
	Attempts int             `json:"attempts,omitempty"`
	Output   json.RawMessage `json:"output,omitempty"`
	Error    string          `json:"error,omitempty"`
}

type runSummary struct {
	RunID  string                 `json:"run_id"`
	Status string                 `json:"status"`
	Output json.RawMessage        `json:"output,omitempty"`
	Error  string                 `json:"error,omitempty"`
	Steps  map[string]stepSummary `json:"steps"`
}

func runResult(run *state.Run, attempts []state.StepAttempt) runSummary {
	sort.SliceStable(attempts, func(i, j int) bool {
		if attempts[i].Iteration != attempts[j].Iteration {
			return attempts[i].Iteration < attempts[j].Iteration
		}
		return attempts[i].Attempt < attempts[j].Attempt
	})
	r := runSummary{RunID: run.ID, Status: run.Status, Output: run.Output, Error: run.Error, Steps: map[string]stepSummary{}}
	for _, a := range attempts {
		s := r.Steps[a.StepID]
		s.Status = a.Status
		if a.Attempt > s.Attempts {
			s.Attempts = a.Attempt
		}
		if len(a.Output) > 0 {
			s.Output = a.Output
		}
		s.Error = a.Error
		r.Steps[a.StepID] = s
	}
	return r
}
