package statesqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// The hot statements are prepared once, at New: SQLite would otherwise parse
// and plan each of them again on every call. Writer statements live on the
// single writer connection and are bound to a transaction with
// [sql.Tx.StmtContext], which reuses the connection's prepared statement.

const runUpdateSetSQL = `UPDATE runs SET
		status = coalesce(nullif(?, ''), status),` + runUpdateRestSQL

// runUpdateRestSQL is the update without the status: SQLite rewrites the
// entries of every index on a column the UPDATE assigns, even to the same
// value, and most decisions leave a run's status as it is.
const runUpdateRestSQL = `
		state = coalesce(?, state),
		output = coalesce(?, output),
		error = coalesce(nullif(?, ''), error),
		finished_at = CASE WHEN ? THEN coalesce(finished_at, ?) ELSE finished_at END,
		updated_at = ?,
		version = version + 1
	WHERE id = ? AND version = ?`

const runUpdateSQL = runUpdateSetSQL + ` RETURNING ` + runCols

// runUpdateLiteSQL is the batch path's update: SQLite runs RETURNING through
// a temporary table, which doubled the cost of the hot statement, and the
// batch caller needs only the new version (ExpectedVersion + 1).
const runUpdateLiteSQL = runUpdateSetSQL

// runUpdateKeepStatusSQL is runUpdateLiteSQL for an update whose Status is
// empty (kept); it takes the same arguments but the first.
const runUpdateKeepStatusSQL = `UPDATE runs SET` + runUpdateRestSQL

const runInsertSQL = `INSERT INTO runs (` + runCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`

const runVersionSQL = `SELECT version FROM runs WHERE id = ?`

const attemptUpsertSQL = `INSERT INTO step_attempts
		(run_id, step_id, iteration, attempt, status, input, output, error, worker_id, started_at, finished_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (run_id, step_id, iteration, attempt) DO UPDATE SET
		status = CASE WHEN excluded.status = 'running' THEN status ELSE coalesce(nullif(excluded.status, ''), status) END,
		input = coalesce(excluded.input, input),
		output = coalesce(excluded.output, output),
		error = coalesce(nullif(excluded.error, ''), error),
		worker_id = coalesce(nullif(excluded.worker_id, ''), worker_id),
		started_at = coalesce(started_at, excluded.started_at),
		finished_at = coalesce(excluded.finished_at, finished_at)`

const outboxInsertSQL = `INSERT INTO outbox (run_id, queue, msg_id, priority, headers, body, deliver_at, claimed_until)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

// outboxDeleteSQL takes the seqs as one JSON array, so that one prepared
// statement serves any number of them.
const outboxDeleteSQL = `DELETE FROM outbox WHERE seq IN (SELECT value FROM json_each(?))`

const outboxClaimSQL = `UPDATE outbox SET claimed_until = ?1
	WHERE seq IN (
		SELECT seq FROM outbox
		WHERE deliver_at <= ?2 AND (claimed_until IS NULL OR claimed_until <= ?2)
		ORDER BY deliver_at, seq LIMIT ?3)
	RETURNING seq, run_id, queue, msg_id, priority, headers, body, deliver_at`

const runGetSQL = `SELECT ` + runCols + ` FROM runs WHERE id = ?`

// stmts holds the prepared hot statements.
type stmts struct {
	// On the writer.
	runInsert, runUpdate, runUpdateLite, runUpdateKeepStatus, runVersion, attemptUpsert, outboxInsert, outboxDelete, outboxClaim *sql.Stmt
	// On the readers (the writer for :memory:).
	runGet *sql.Stmt
}

func (s *Store) prepare(ctx context.Context) error {
	for _, x := range []struct {
		db  *sql.DB
		dst **sql.Stmt
		sql string
	}{
		{s.w, &s.stmts.runInsert, runInsertSQL},
		{s.w, &s.stmts.runUpdate, runUpdateSQL},
		{s.w, &s.stmts.runUpdateLite, runUpdateLiteSQL},
		{s.w, &s.stmts.runUpdateKeepStatus, runUpdateKeepStatusSQL},
		{s.w, &s.stmts.runVersion, runVersionSQL},
		{s.w, &s.stmts.attemptUpsert, attemptUpsertSQL},
		{s.w, &s.stmts.outboxInsert, outboxInsertSQL},
		{s.w, &s.stmts.outboxDelete, outboxDeleteSQL},
		{s.w, &s.stmts.outboxClaim, outboxClaimSQL},
		{s.r, &s.stmts.runGet, runGetSQL},
	} {
		st, err := x.db.PrepareContext(ctx, x.sql)
		if err != nil {
			return fmt.Errorf("statesqlite: prepare: %w", err)
		}
		*x.dst = st
	}
	return nil
}

func (s *Store) closeStmts() error {
	var err error
	for _, st := range []*sql.Stmt{
		s.stmts.runInsert, s.stmts.runUpdate, s.stmts.runUpdateLite, s.stmts.runUpdateKeepStatus, s.stmts.runVersion, s.stmts.attemptUpsert, s.stmts.outboxInsert,
		s.stmts.outboxDelete, s.stmts.outboxClaim, s.stmts.runGet,
	} {
		if st != nil {
			err = errors.Join(err, st.Close())
		}
	}
	return err
}

// txStmts binds prepared statements to one transaction, each at most once,
// however many updates the transaction applies.
type txStmts struct {
	// ctx is the caller's context without its cancellation: the driver
	// starts a goroutine per statement to watch a cancellable context, and
	// five statements per decision take microseconds each.
	// Cancellation still ends the transaction, which watches the original.
	ctx   context.Context
	tx    *sql.Tx
	bound map[*sql.Stmt]*sql.Stmt
}

func newTxStmts(ctx context.Context, tx *sql.Tx) *txStmts {
	return &txStmts{ctx: context.WithoutCancel(ctx), tx: tx, bound: make(map[*sql.Stmt]*sql.Stmt, 4)}
}

func (t *txStmts) get(st *sql.Stmt) *sql.Stmt {
	b, ok := t.bound[st]
	if !ok {
		b = t.tx.StmtContext(t.ctx, st)
		t.bound[st] = b
	}
	return b
}
