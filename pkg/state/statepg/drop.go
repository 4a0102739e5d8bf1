package statepg

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// DropSchema drops, on the server at url, the schema of a store
// (Config.Schema) with every table in it. For throw-away namespaces (tests,
// benchmarks); a missing schema is not an error.
func DropSchema(ctx context.Context, url, schema string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("statepg: drop schema %s: %w", schema, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
		return fmt.Errorf("statepg: drop schema %s: %w", schema, err)
	}
	return nil
}
