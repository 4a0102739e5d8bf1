package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ia-modules/ia-go/pkg/client"
)

func newHumanTasksCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "human-tasks", Short: "List, show and decide human tasks through the API"}
	newClient := apiFlags(cmd)

	var lp client.ListHumanTasksParams
	var all bool
	list := &cobra.Command{
		Use: "list", Short: "List human tasks (pending by default)", Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient()
			if err != nil {
				return err
			}
			if lp.Status == "" && !all {
				lp.Status = "pending"
			}
			tasks, err := c.ListHumanTasks(cmd.Context(), &lp)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPIPELINE\tSTEP\tSTATUS\tASSIGNEES\tDEADLINE\tPROMPT")
			for _, t := range tasks {
				dl := ""
				if t.Deadline != nil {
					dl = t.Deadline.Local().Format(time.DateTime)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Pipeline, t.StepID, t.Status, strings.Join(t.Assignees, ","), dl, t.Prompt)
			}
			return tw.Flush()
		},
	}
	lf := list.Flags()
	lf.StringVar(&lp.Status, "status", "", "pending, decided, expired or cancelled")
	lf.BoolVar(&all, "all", false, "every status")
	lf.StringVar(&lp.Assignee, "assignee", "", "only tasks assigned to this user or role:NAME")
	lf.StringVar(&lp.Pipeline, "pipeline", "", "only tasks of this pipeline")
	lf.StringVar(&lp.RunID, "run", "", "only tasks of this run")

	show := &cobra.Command{
		Use: "show ID", Short: "Show a human task with its form", Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := newClient()
			if err != nil {
				return err
			}
			t, err := c.GetHumanTask(cmd.Context(), a[0])
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), t)
		},
	}

	var decision string
	var fields []string
	decide := &cobra.Command{
		Use:   "decide ID (--decision JSON | --set name=value ...)",
		Short: "Decide a human task",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			d := map[string]any{}
			if decision != "" {
				if err := json.Unmarshal([]byte(decision), &d); err != nil {
					return usageError(fmt.Errorf("--decision must be a JSON object: %w", err))
				}
			}
			for _, f := range fields {
				k, v, ok := strings.Cut(f, "=")
				if !ok {
					return usageError(fmt.Errorf("--set %q: want name=value", f))
				}
				var jv any
				if json.Unmarshal([]byte(v), &jv) == nil {
					d[k] = jv
				} else {
					d[k] = v
				}
			}
			if len(d) == 0 {
				return usageError(fmt.Errorf("give --decision or --set"))
			}
			c, err := newClient()
			if err != nil {
				return err
			}
			t, err := c.Decide(cmd.Context(), a[0], d)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "human task %s: %s (%d of %d decisions)\n", t.ID, t.Status, len(t.Decisions), max(t.Quorum, 1))
			return nil
		},
	}
	decide.Flags().StringVar(&decision, "decision", "", `decision as a JSON object, e.g. '{"decision":"approve"}'`)
	decide.Flags().StringArrayVar(&fields, "set", nil, "set one field: name=value (value parsed as JSON when it is)")
	cmd.AddCommand(list, show, decide)
	return cmd
}
