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
//
// RunUpdateMany (group commit) costs the server one statement for the whole
// batch rather than one per update: the runs, attempts, outbox rows, human
// tasks and deletes of every update travel as arrays, and one statement of
// data-modifying CTEs writes each table once, gated on the runs whose guarded
// update applied. Updates that touch the same run (or human task) go in
// later statements of the same pgx batch, so they still apply in order.
package statepg
