package statesqlite

import (
	"cmp"
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ia-modules/ia-go/pkg/state"
)

// Defaults for Config fields left at their zero value.
const (
	PathDefault        = ":memory:"
	BusyTimeoutDefault = 5 * time.Second
	ReadConnsDefault   = 4
)

// Config configures New.
type Config struct {
	// Path is the database file, or ":memory:" (the default) for a private
	// in-memory database that lives as long as the Store.
	Path string
	// BusyTimeout bounds waits for locks held by other processes. Default
	// BusyTimeoutDefault (5s).
	BusyTimeout time.Duration
	// ReadConns caps the read pool of a file database. Default
	// ReadConnsDefault (4).
	ReadConns int
	// CheckpointEvery is how often a background checkpoint copies a file
	// database's write-ahead log into the database file. Default
	// CheckpointEveryDefault; negative leaves checkpoints to SQLite.
	CheckpointEvery time.Duration
	// NoSync never waits for the disk (synchronous=OFF) instead of syncing
	// at every checkpoint (NORMAL). Commits then survive a crash of the
	// process but not of the machine, which may also corrupt the file: for
	// a database that does not outlive the process, such as `ia run`'s in a
	// temporary directory. The syncs cost ~30 % of the embedded engine's
	// throughput on a virtual disk (docs/benchmarks.md).
	NoSync bool
	// Logger defaults to Warn level on stdout.
	Logger *slog.Logger
}

// Store is a [state.Store] backed by SQLite.
type Store struct {
	w, r   *sql.DB // writer (one connection) and readers; the same for :memory:
	stmts  stmts
	logger *slog.Logger
	closed atomic.Bool
	// stopCheckpoint ends the checkpointer, which closes checkpointDone;
	// both nil when none runs.
	stopCheckpoint, checkpointDone chan struct{}
}

var _ state.Store = (*Store)(nil)

//go:embed schema.sql
var schemaSQL string

// New opens (creating when missing) the database and its tables.
func New(ctx context.Context, cfg Config) (*Store, error) {
	path := cfg.Path
	if path == "" {
		path = PathDefault
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	busy := cfg.BusyTimeout
	if busy <= 0 {
		busy = BusyTimeoutDefault
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	memory := path == ":memory:"
	if !memory {
		q.Add("_pragma", "journal_mode(WAL)")
		if cfg.NoSync {
			q.Add("_pragma", "synchronous(OFF)")
		} else {
			q.Add("_pragma", "synchronous(NORMAL)")
		}
		if cfg.CheckpointEvery >= 0 {
			q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", autoCheckpointPages))
		}
	}
	dsn := "file:" + path + "?" + q.Encode()
	w, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("statesqlite: open: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	s := &Store{w: w, r: w, logger: logger}
	if !memory {
		r, err := sql.Open("sqlite", dsn)
		if err != nil {
			_ = w.Close()
			return nil, fmt.Errorf("statesqlite: open: %w", err)
		}
		rc := cfg.ReadConns
		if rc <= 0 {
			rc = ReadConnsDefault
		}
		r.SetMaxOpenConns(rc)
		s.r = r
	}
	for _, ddl := range []string{schemaSQL, authSchemaSQL} {
		if _, err := w.ExecContext(ctx, ddl); err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("statesqlite: create tables: %w", err)
		}
	}
	if err := s.prepare(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	if !memory && cfg.CheckpointEvery >= 0 {
		s.stopCheckpoint, s.checkpointDone = make(chan struct{}), make(chan struct{})
		go s.checkpointer(cmp.Or(cfg.CheckpointEvery, CheckpointEveryDefault))
	}
	return s, nil
}

// Close closes the database. It is safe to call more than once.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	if s.stopCheckpoint != nil {
		close(s.stopCheckpoint)
		<-s.checkpointDone
	}
	err := errors.Join(s.closeStmts(), s.w.Close())
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

func (s *Store) interpret(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return state.ErrNotFound
	case s.closed.Load():
		return fmt.Errorf("%w: %w", state.ErrClosed, err)
	}
	return err
}

// writeTx runs fn in a write transaction on the single writer connection.
func (s *Store) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if s.closed.Load() {
		return state.ErrClosed
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// isConstraint reports a constraint violation: SQLite undoes the failing
// statement alone, and the transaction may go on.
func isConstraint(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// Time and JSON column helpers.

func micro(t time.Time) int64 { return t.UnixMicro() }

func microPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func fromMicro(n int64) time.Time { return time.UnixMicro(n).UTC() }

func fromMicroNull(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMicro(n.Int64)
	return &t
}

// jsonArg binds b as TEXT without copying it: the driver copies the bytes
// into SQLite's memory when it binds them, before the call returns.
func jsonArg(b []byte) any {
	if b == nil {
		return nil
	}
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func jsonCol(s sql.NullString) []byte {
	if !s.Valid {
		return nil
	}
	return []byte(s.String)
}

func nowUS() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
