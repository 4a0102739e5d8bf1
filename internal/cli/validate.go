package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ia-modules/ia-go/pkg/dag"
	"github.com/ia-modules/ia-go/pkg/steps"
)

// fileReport is the outcome of validating one file (the --json shape).
type fileReport struct {
	File        string       `json:"file"`
	OK          bool         `json:"ok"`
	Steps       int          `json:"steps,omitempty"`
	Transitions int          `json:"transitions,omitempty"`
	Problems    dag.Problems `json:"problems"`
	// Error is set when the file could not be read.
	Error string `json:"error,omitempty"`
}

func newValidateCommand() *cobra.Command {
	var (
		asJSON  bool
		input   string
		classes []string
	)
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check pipelines and report every problem",
		Long: "validate loads each pipeline and prints every problem, warnings included, as\n" +
			"file:line:col: path: severity: message.\n\n" +
			"--input takes the run input as a JSON object (or @FILE) and checks that every\n" +
			"required parameter has a value.\n\n" +
			"--classes names the Go step classes your workers register (\"builtin\" for the\n" +
			"built-ins); a step naming any other class and no Python module is then an error.\n\n" +
			"Exit status: 2 when any pipeline has an error, 1 when a file cannot be read, else 0.",
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, files []string) error {
			var runInput map[string]any
			if cmd.Flags().Changed("input") {
				var err error
				if runInput, err = parseInput(input); err != nil {
					return usageError(err)
				}
			}
			var opts *dag.CompileOptions
			if len(classes) > 0 {
				opts = &dag.CompileOptions{Registry: classSet(classes)}
			}
			reports := make([]fileReport, 0, len(files))
			for _, f := range files {
				reports = append(reports, validateFile(f, runInput, opts))
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(reports); err != nil {
					return fmt.Errorf("write report: %w", err)
				}
			} else {
				for _, r := range reports {
					for _, p := range r.Problems {
						fmt.Fprintln(out, p.String())
					}
					switch {
					case r.Error != "":
						fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s\n", r.File, r.Error)
					case r.OK:
						fmt.Fprintf(out, "%s: ok (%d steps, %d transitions)\n", r.File, r.Steps, r.Transitions)
					}
				}
			}
			return validateExit(reports)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of per-file reports")
	cmd.Flags().StringVar(&input, "input", "", "run input as a JSON object, or @FILE, to check required parameters")
	cmd.Flags().StringSliceVar(&classes, "classes", nil, "step classes the workers register (repeatable, comma-separated; \"builtin\" = the built-ins)")
	return cmd
}

// classSet is a dag.Registry over a list of class names.
type classSet []string

func (c classSet) Has(class string) bool {
	for _, x := range c {
		if x == class || x == "builtin" && steps.Builtins().Has(class) {
			return true
		}
	}
	return false
}

func validateFile(file string, runInput map[string]any, opts *dag.CompileOptions) fileReport {
	r := fileReport{File: file, Problems: dag.Problems{}}
	data, err := os.ReadFile(file)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	g, probs := dag.Load(file, data, opts)
	r.Problems = append(r.Problems, probs...)
	if g == nil {
		return r
	}
	r.Steps, r.Transitions = len(g.Pipeline.Steps), len(g.Pipeline.Edges)
	if runInput != nil {
		if _, err := g.NewRun("validate", runInput); err != nil {
			code := "bad_input"
			if errors.Is(err, dag.ErrMissingParameter) {
				code = "missing_parameter"
			}
			r.Problems = append(r.Problems, dag.Problem{File: file, Path: "parameters", Severity: dag.SeverityError,
				Code: code, Message: err.Error(), Hint: "add it to --input or give the parameter a default"})
			return r
		}
	}
	r.OK = true
	return r
}

func validateExit(reports []fileReport) error {
	code := ExitOK
	for _, r := range reports {
		switch {
		case r.Problems.HasErrors():
			code = ExitInvalid
		case r.Error != "" && code == ExitOK:
			code = ExitFailure
		}
	}
	if code == ExitOK {
		return nil
	}
	return &ExitError{Code: code} // already reported per file
}

// parseInput reads --input: a JSON object, or @FILE holding one.
func parseInput(s string) (map[string]any, error) {
	data := []byte(s)
	if name, ok := strings.CutPrefix(s, "@"); ok {
		var err error
		if data, err = os.ReadFile(name); err != nil {
			return nil, fmt.Errorf("--input: %w", err)
		}
	}
	var in map[string]any
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, fmt.Errorf("--input must be a JSON object: %w", err)
	}
	if in == nil {
		in = map[string]any{} // "null" is an empty input, still checked
	}
	return in, nil
}
