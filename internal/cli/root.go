// Package cli implements the ia command. Each subcommand lives in its own
// file and is registered in New; cmd/ia only maps Main's result to the
// process exit code.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Exit codes. Scripts rely on ExitInvalid meaning "a pipeline has errors",
// so usage mistakes get their own code.
const (
	ExitOK      = 0
	ExitFailure = 1  // I/O and other operational errors
	ExitInvalid = 2  // a pipeline has errors
	ExitUsage   = 64 // bad flags or arguments (sysexits EX_USAGE)
)

// ExitError makes a command exit with Code. Err, when set, is printed to
// stderr; leave it nil when the command has already reported the problem.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

func usageError(err error) error { return &ExitError{Code: ExitUsage, Err: err} }

// New builds the ia command tree. To add a subcommand, write newXxxCommand
// in its own file and add it below.
func New() *cobra.Command {
	root := &cobra.Command{
		Use:   "ia",
		Short: "Run and inspect IA Modules pipelines",
		Long: "ia validates, formats and draws IA Modules pipelines (JSON DAGs of AI steps).\n\n" +
			"Exit codes: 0 ok, 1 failure, 2 invalid pipeline, 64 usage error.",
		SilenceUsage:  true,
		SilenceErrors: true, // Main prints errors, once
		Args:          cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Without this, cobra prints help and succeeds for "ia typo".
			if len(args) > 0 {
				return usageError(fmt.Errorf("unknown command %q; run 'ia --help'", args[0]))
			}
			return cmd.Help()
		},
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError(fmt.Errorf("%w\nrun '%s --help' for usage", err, cmd.CommandPath()))
	})

	root.AddCommand(newValidateCommand())
	root.AddCommand(newFormatCommand())
	root.AddCommand(newVisualizeCommand())
	root.AddCommand(newSchemaCommand())
	root.AddCommand(newRunCommand())
	root.AddCommand(newRunsCommand())
	root.AddCommand(newHumanTasksCommand())
	root.AddCommand(newPipelinesCommand())
	root.AddCommand(newTokensCommand())
	root.AddCommand(newDevCommand())
	root.AddCommand(newServeCommand())
	root.AddCommand(newBenchCommand())
	return root
}

// Main runs the ia command with args (without the program name) and returns
// the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := New()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if !errors.As(err, &ee) {
		ee = &ExitError{Code: ExitFailure, Err: err}
	}
	if ee.Err != nil {
		fmt.Fprintln(stderr, "ia:", ee.Err)
	}
	return ee.Code
}

// args wraps a cobra argument check so that its failures are usage errors.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return usageError(fmt.Errorf("%s: %w", cmd.CommandPath(), err))
		}
		return nil
	}
}
