package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ia-modules/ia-go/pkg/api"
	"github.com/ia-modules/ia-go/pkg/client"
)

// apiFlags adds --api-url and --token to cmd and returns a client factory.
func apiFlags(cmd *cobra.Command) func() (*client.Client, error) {
	var apiURL, token string
	pf := cmd.PersistentFlags()
	pf.StringVar(&apiURL, "api-url", "", "API URL (env IA_API_URL; default "+client.URLDefault+")")
	pf.StringVar(&token, "token", "", "API token (env IA_TOKEN)")
	return func() (*client.Client, error) {
		c, err := client.New(client.Config{URL: firstNonEmpty(apiURL, os.Getenv("IA_API_URL")), Token: firstNonEmpty(token, os.Getenv("IA_TOKEN"))})
		if err != nil {
			return nil, usageError(err)
		}
		return c, nil
	}
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newRunsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "runs", Short: "Submit, inspect, cancel, resume and watch runs through the API"}
	newClient := apiFlags(cmd)

	var input, inputFile, key string
	var priority int
	var watch bool
	submit := &cobra.Command{
		Use:   "submit PIPELINE",
		Short: "Submit a run of a pipeline (slug) and print it",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			in, err := readInput(input, inputFile)
			if err != nil {
				return usageError(err)
			}
			raw, _ := json.Marshal(in)
			c, err := newClient()
			if err != nil {
				return err
			}
			run, _, err := c.SubmitRun(cmd.Context(), &api.SubmitRequest{Pipeline: a[0], Input: raw, Priority: priority, IdempotencyKey: key})
			if err != nil {
				return err
			}
			if !watch {
				return printJSON(cmd.OutOrStdout(), run)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "run %s (%s)\n", run.ID, run.Pipeline)
			return watchRunAPI(cmd.Context(), c, run.ID, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	sf := submit.Flags()
	sf.StringVar(&input, "input", "", "run input as a JSON object")
	sf.StringVar(&inputFile, "input-file", "", "read the run input from a JSON file")
	sf.StringVar(&key, "idempotency-key", "", "a repeat with the same key returns the first run")
	sf.IntVar(&priority, "priority", 0, "-1 low, 0 normal, 1 high")
	sf.BoolVar(&watch, "watch", false, "watch the run's progress until it finishes")

	get := &cobra.Command{
		Use: "get ID", Short: "Show a run with every step's attempts", Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := newClient()
			if err != nil {
				return err
			}
			run, err := c.GetRun(cmd.Context(), a[0])
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), run)
		},
	}

	var lp client.ListRunsParams
	var since time.Duration
	list := &cobra.Command{
		Use: "list", Short: "List runs, newest first", Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient()
			if err != nil {
				return err
			}
			if since > 0 {
				lp.Since = time.Now().Add(-since)
			}
			page, err := c.ListRuns(cmd.Context(), &lp)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPIPELINE\tSTATUS\tCREATED BY\tCREATED")
			for _, r := range page.Runs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Pipeline, r.Status, r.CreatedBy, r.CreatedAt.Local().Format(time.DateTime))
			}
			if page.NextCursor != "" {
				fmt.Fprintf(tw, "(more: --cursor %s)\n", page.NextCursor)
			}
			return tw.Flush()
		},
	}
	lf := list.Flags()
	lf.StringVar(&lp.Status, "status", "", "only runs with this status")
	lf.StringVar(&lp.Pipeline, "pipeline", "", "only runs of this pipeline")
	lf.StringVar(&lp.CreatedBy, "created-by", "", "only runs submitted by this token name")
	lf.DurationVar(&since, "since", 0, "only runs created within this long")
	lf.StringVar(&lp.Cursor, "cursor", "", "next page cursor")
	lf.IntVar(&lp.Limit, "limit", 50, "page size")

	var reason string
	cancel := &cobra.Command{
		Use: "cancel ID", Short: "Cancel a run", Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := newClient()
			if err != nil {
				return err
			}
			run, err := c.CancelRun(cmd.Context(), a[0], reason)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "run %s: cancel requested (%s)\n", run.ID, run.Status)
			return nil
		},
	}
	cancel.Flags().StringVar(&reason, "reason", "", "why")

	var step string
	resume := &cobra.Command{
		Use: "resume ID", Short: "Resume a failed or cancelled run (or retry one failed --step)", Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := newClient()
			if err != nil {
				return err
			}
			var run *api.Run
			if step != "" {
				run, err = c.RetryStep(cmd.Context(), a[0], step)
			} else {
				run, err = c.ResumeRun(cmd.Context(), a[0])
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "run %s: resumed (%s)\n", run.ID, run.Status)
			return nil
		},
	}
	resume.Flags().StringVar(&step, "step", "", "retry only this failed step")

	watchCmd := &cobra.Command{
		Use: "watch ID", Short: "Print a run's live step progress until it finishes", Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := newClient()
			if err != nil {
				return err
			}
			return watchRunAPI(cmd.Context(), c, a[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.AddCommand(submit, get, list, cancel, resume, watchCmd)
	return cmd
}

// watchRunAPI prints step progress from the run's event stream, then the
// final run; it reconnects with Last-Event-ID when the stream drops.
func watchRunAPI(ctx context.Context, c *client.Client, runID string, out, progress io.Writer) error {
	var last int64
	finished := false
	for !finished {
		var err error
		last, err = c.Events(ctx, runID, last, func(ev api.Event) bool {
			fmt.Fprintln(progress, eventLine(ev))
			finished = ev.Type == "run_finished"
			return !finished
		})
		if finished {
			break
		}
		if client.IsStatus(err, 404) || client.IsStatus(err, 401) || client.IsStatus(err, 403) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	run, err := c.GetRun(ctx, runID)
	if err != nil {
		return err
	}
	if err := printJSON(out, map[string]any{"run_id": run.ID, "status": run.Status, "output": run.Output, "error": run.Error}); err != nil {
		return err
	}
	if run.Status != "completed" {
		return &ExitError{Code: ExitFailure}
	}
	return nil
}

func eventLine(ev api.Event) string {
	var data map[string]any
	_ = json.Unmarshal(ev.Data, &data)
	switch ev.Type {
	case "run_finished":
		line := fmt.Sprintf("run %s", data["status"])
		if e, _ := data["error"].(string); e != "" {
			line += ": " + e
		}
		return line
	case "run_started":
		return "run started"
	}
	line := fmt.Sprintf("  %-24s %s", ev.StepID, ev.Type)
	if a, ok := data["attempt"].(float64); ok && a > 1 {
		line += fmt.Sprintf(" (attempt %d)", int(a))
	}
	if e, ok := data["error"].(map[string]any); ok {
		line += fmt.Sprintf(": %v", e["message"])
	}
	return line
}
