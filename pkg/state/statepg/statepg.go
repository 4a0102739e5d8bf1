package statepg

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ia-modules/ia-go/pkg/state"
)

// Defaults for Config fields left at their zero value.
const (
	SchemaDefault   = "ia"
	MaxConnsDefault = 10
)

// Config configures New.
type Config struct {
	// URL is the Postgres connection URL. Required.
	URL string
	// Schema holds every table. Default SchemaDefault ("ia"). Lower-case
	// letters, digits and underscores only.
	Schema string
	// MaxConns caps the pool. Default MaxConnsDefault (10).
	MaxConns int32
	// Logger defaults to Warn level on stdout.
	Logger *slog.Logger
}

// Store is a [state.Store] backed by Postgres.
type Store struct {
	pool   *pgxpool.Pool
	schema string
	logger *slog.Logger
	closed atomic.Bool
}

var _ state.Store = (*Store)(nil)

//go:embed migrations/*.sql
var migrationsFS embed.FS

var schemaRe = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// New connects, creates the schema when missing and applies pending
// migrations.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.URL == "" {
		return nil, errors.New("statepg: Config.URL is required")
	}
	schema := cmp.Or(cfg.Schema, SchemaDefault)
	if !schemaRe.MatchString(schema) {
		return nil, fmt.Errorf("statepg: invalid schema name %q", schema)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	pcfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("statepg: parse URL: %w", err)
	}
	pcfg.MaxConns = cmp.Or(cfg.MaxConns, MaxConnsDefault)
	// A startup parameter costs no extra round trip, unlike AfterConnect.
	pcfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("statepg: connect: %w", err)
	}
	s := &Store{pool: pool, schema: schema, logger: logger}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the pool. It is safe to call more than once.
func (s *Store) Close() error {
	if s.closed.CompareAndSwap(false, true) {
		s.pool.Close()
	}
	return nil
}

// Pool exposes the pool for tests and maintenance tools in this module.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationsFS, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		if !ok {
			return nil, fmt.Errorf("statepg: migration %q has no number prefix", e.Name())
		}
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("statepg: migration %q: %w", e.Name(), err)
		}
		b, err := migrationsFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("statepg: migrate: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	// The lock also covers CREATE SCHEMA IF NOT EXISTS, which races on its own.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('ia-go:migrate:' || $1))`, s.schema); err != nil {
		return fmt.Errorf("statepg: migrate lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+s.schema+`;
		CREATE TABLE IF NOT EXISTS `+s.schema+`.schema_migrations (
			version integer PRIMARY KEY,
			name text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("statepg: migrate: %w", err)
	}
	applied := map[int]bool{}
	rows, err := tx.Query(ctx, `SELECT version FROM `+s.schema+`.schema_migrations`)
	if err != nil {
		return fmt.Errorf("statepg: migrate: %w", err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return fmt.Errorf("statepg: migrate: %w", err)
	}
	for _, v := range vs {
		applied[v] = true
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("statepg: migration %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+s.schema+`.schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
			return fmt.Errorf("statepg: migration %s: %w", m.name, err)
		}
		s.logger.InfoContext(ctx, "statepg: applied migration", slog.String("migration", m.name), slog.String("schema", s.schema))
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("statepg: migrate commit: %w", err)
	}
	return nil
}

// sqlstate codes we translate.
const (
	codeGuardFailed     = "IA409"
	codeUniqueViolation = "23505"
)

// interpret translates driver errors into the state sentinels.
func (s *Store) interpret(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return state.ErrNotFound
	case s.closed.Load():
		return fmt.Errorf("%w: %w", state.ErrClosed, err)
	}
	return err
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}
