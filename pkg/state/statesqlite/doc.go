// Package statesqlite is the embedded [state.Store] for single-process use,
// on modernc.org/sqlite (pure Go, no cgo). It has the same semantics as
// statepg and passes the same conformance suite.
//
// # Concurrency
//
// All writes go through one connection, so SQLite never answers SQLITE_BUSY
// between our own writers and optimistic checks become simple reads inside
// the write transaction. A file database uses WAL and a separate pool of
// read connections; ":memory:" uses the single connection for everything.
// The hot statements (run update and get, attempt upsert, outbox insert,
// claim and delete) are prepared once, at New, and reused.
//
// RunUpdateMany ([state.BatchUpdater]) applies many runs' updates in one
// write transaction, so they share one commit.
package statesqlite
