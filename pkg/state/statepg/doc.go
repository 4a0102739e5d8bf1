// Package statepg is the Postgres implementation of [state.Store], built on
// pgx/v5 and pgxpool.
//
// # Schema and migrations
//
// Every table lives in Config.Schema (default "ia"), which New creates when
// missing. Numbered migrations are embedded in the binary and applied by New
// under a transaction-scoped advisory lock, so several processes may start at
// once; applied versions are recorded in the schema_migrations table.
//
// # Hot path
//
// RunUpdate sends the guarded run update, attempt upserts, outbox inserts and
// human task upserts as one pgx batch. A batch outside an explicit transaction
// runs in one implicit transaction on the server, so one RunUpdate is one
// round trip and either everything is written or nothing is.
package statepg
