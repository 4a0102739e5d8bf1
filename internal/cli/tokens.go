package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ia-modules/ia-go/pkg/api"
	"github.com/ia-modules/ia-go/pkg/state"
	"github.com/ia-modules/ia-go/pkg/state/statepg"
	"github.com/ia-modules/ia-go/pkg/state/statesqlite"
)

// openAuth opens the token store directly (no API needed): Postgres or
// SQLite by URL, or the `ia dev` data dir's SQLite file.
func openAuth(ctx context.Context, dbURL, dataDir string) (state.Auth, func() error, error) {
	switch {
	case strings.HasPrefix(dbURL, "postgres://"), strings.HasPrefix(dbURL, "postgresql://"):
		// The schema the other processes use (IA_PREFIX, as their --prefix).
		schema := firstNonEmpty(os.Getenv("IA_PREFIX"), statepg.SchemaDefault)
		s, err := statepg.New(ctx, statepg.Config{URL: dbURL, Schema: schema})
		if err != nil {
			return nil, nil, err
		}
		return s, s.Close, nil
	case strings.HasPrefix(dbURL, "sqlite:"), dbURL == "":
		path := strings.TrimPrefix(dbURL, "sqlite:")
		if path == "" {
			path = filepath.Join(dataDir, "ia.db")
		}
		s, err := statesqlite.New(ctx, statesqlite.Config{Path: path})
		if err != nil {
			return nil, nil, err
		}
		return s, s.Close, nil
	}
	return nil, nil, fmt.Errorf("unsupported database URL (want postgres://... or sqlite:PATH)")
}

func newTokensCommand() *cobra.Command {
	var dbURL, dataDir string
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "Create, list and revoke API tokens directly in the store (IA_DATABASE_URL)",
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&dbURL, "database-url", "", "state store URL (env IA_DATABASE_URL; default the ia dev data dir)")
	pf.StringVar(&dataDir, "data-dir", ".ia-dev", "the ia dev data dir, when no URL is given")
	open := func(cmd *cobra.Command) (state.Auth, func() error, error) {
		return openAuth(cmd.Context(), firstNonEmpty(dbURL, os.Getenv("IA_DATABASE_URL")), dataDir)
	}
	var name, role string
	create := &cobra.Command{
		Use:   "create --role ROLE --name NAME",
		Short: "Create a token and print its secret (shown once)",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, closeFn, err := open(cmd)
			if err != nil {
				return err
			}
			defer closeFn()
			tok, err := api.CreateToken(cmd.Context(), a, name, role, "cli")
			if err != nil {
				return usageError(err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "created %s token %q (id %s); the secret is shown once:\n", tok.Role, tok.Name, tok.ID)
			fmt.Fprintln(cmd.OutOrStdout(), tok.Secret)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "who the token identifies (required)")
	create.Flags().StringVar(&role, "role", "", "producer, reviewer, operator or admin (required)")
	_ = create.MarkFlagRequired("name")
	_ = create.MarkFlagRequired("role")
	var all bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, closeFn, err := open(cmd)
			if err != nil {
				return err
			}
			defer closeFn()
			toks, err := a.TokenList(cmd.Context(), &state.TokenListParams{IncludeRevoked: all})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tREVOKED")
			for _, t := range toks {
				rev := ""
				if t.RevokedAt != nil {
					rev = t.RevokedAt.Format("2006-01-02 15:04")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, t.CreatedAt.Format("2006-01-02 15:04"), rev)
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&all, "all", false, "include revoked tokens")
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			st, closeFn, err := open(cmd)
			if err != nil {
				return err
			}
			defer closeFn()
			t, err := st.TokenRevoke(cmd.Context(), a[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s (%s)\n", t.ID, t.Name)
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
