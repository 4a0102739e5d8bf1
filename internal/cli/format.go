package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ia-modules/ia-go/pkg/dag"
)

func newFormatCommand() *cobra.Command {
	var write bool
	cmd := &cobra.Command{
		Use:   "format [-w] FILE...",
		Short: "Rewrite pipelines in canonical JSON",
		Long: "format prints each pipeline in canonical form: two-space indent, fixed key order,\n" +
			"canonical spellings (from, step_class, paths). With -w it rewrites the files that\n" +
			"change instead. Only parse errors stop formatting (exit 2); run validate for the rest.",
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, files []string) error {
			code := ExitOK
			for _, f := range files {
				c, err := formatFile(f, write, cmd.OutOrStdout(), cmd.ErrOrStderr())
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: %v\n", f, err)
				}
				code = max(code, c)
			}
			if code != ExitOK {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&write, "write", "w", false, "rewrite files in place (only those that change)")
	return cmd
}

// formatFile returns the exit code for f; problems are printed to stderr.
func formatFile(f string, write bool, stdout, stderr io.Writer) (int, error) {
	data, err := os.ReadFile(f)
	if err != nil {
		return ExitFailure, err
	}
	p, probs := dag.Parse(f, data)
	if probs.HasErrors() {
		for _, pr := range probs {
			fmt.Fprintln(stderr, pr.String())
		}
		return ExitInvalid, nil
	}
	out, err := dag.Format(p)
	if err != nil {
		return ExitFailure, err
	}
	if !write {
		if _, err := stdout.Write(out); err != nil {
			return ExitFailure, fmt.Errorf("write: %w", err)
		}
		return ExitOK, nil
	}
	if bytes.Equal(out, data) {
		return ExitOK, nil
	}
	if err := replaceFile(f, out); err != nil {
		return ExitFailure, err
	}
	fmt.Fprintf(stdout, "%s: formatted\n", f)
	return ExitOK, nil
}

// replaceFile writes data next to name and renames it over name, so a crash
// never leaves a half-written pipeline. The file keeps its permissions.
func replaceFile(name string, data []byte) error {
	info, err := os.Stat(name)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return fmt.Errorf("rewrite: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("rewrite: %w", err)
	}
	if err := tmp.Chmod(info.Mode().Perm()); err != nil {
		tmp.Close()
		return fmt.Errorf("rewrite: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("rewrite: %w", err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return fmt.Errorf("rewrite: %w", err)
	}
	return nil
}
