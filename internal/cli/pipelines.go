package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ia-modules/ia-go/pkg/api"
)

func newPipelinesCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "pipelines", Short: "Import, list and show pipelines through the API"}
	newClient := apiFlags(cmd)

	imp := &cobra.Command{
		Use:   "import DIR|FILE...",
		Short: "Import pipeline JSON files (slug = file name); unchanged files are not rewritten",
		Args:  args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			var files []string
			for _, p := range a {
				st, err := os.Stat(p)
				if err != nil {
					return err
				}
				if !st.IsDir() {
					files = append(files, p)
					continue
				}
				m, err := filepath.Glob(filepath.Join(p, "*.json"))
				if err != nil {
					return err
				}
				files = append(files, m...)
			}
			if len(files) == 0 {
				return usageError(fmt.Errorf("no .json files in %s", strings.Join(a, " ")))
			}
			var items []api.PipelineImportItem
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				items = append(items, api.PipelineImportItem{Slug: strings.TrimSuffix(filepath.Base(f), filepath.Ext(f)), Definition: json.RawMessage(b)})
			}
			c, err := newClient()
			if err != nil {
				return err
			}
			res, err := c.ImportPipelines(cmd.Context(), items)
			if err != nil {
				return err
			}
			for _, r := range res {
				what := "unchanged"
				if r.Changed {
					what = "imported"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-24s v%d %s\n", r.Slug, r.Version, what)
			}
			return nil
		},
	}
	list := &cobra.Command{
		Use: "list", Short: "List pipelines (latest versions)", Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient()
			if err != nil {
				return err
			}
			ps, err := c.ListPipelines(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SLUG\tNAME\tVERSION\tCREATED")
			for _, p := range ps {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", p.Slug, p.Name, p.Version, p.CreatedAt.Local().Format(time.DateTime))
			}
			return tw.Flush()
		},
	}
	var version int
	show := &cobra.Command{
		Use: "show SLUG", Short: "Show a pipeline version (latest, or --version N) and its versions", Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := newClient()
			if err != nil {
				return err
			}
			p, err := c.GetPipeline(cmd.Context(), a[0], version)
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), p)
		},
	}
	show.Flags().IntVar(&version, "version", 0, "version number (default latest)")
	cmd.AddCommand(imp, list, show)
	return cmd
}
