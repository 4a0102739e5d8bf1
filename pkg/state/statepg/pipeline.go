package statepg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ia-modules/ia-go/pkg/state"
)

const pipelineCols = `id, slug, name, version, hash, definition, created_at`

func scanPipeline(row pgx.Row) (*state.PipelineVersion, error) {
	var (
		pv  state.PipelineVersion
		def []byte
	)
	if err := row.Scan(&pv.ID, &pv.Slug, &pv.Name, &pv.Version, &pv.Hash, &def, &pv.CreatedAt); err != nil {
		return nil, err
	}
	pv.Definition = def
	pv.CreatedAt = pv.CreatedAt.UTC()
	return &pv, nil
}

func collectPipelines(rows pgx.Rows, err error) ([]state.PipelineVersion, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []state.PipelineVersion
	for rows.Next() {
		pv, err := scanPipeline(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *pv)
	}
	return out, rows.Err()
}

// PipelineVersionPut implements [state.Store].
func (s *Store) PipelineVersionPut(ctx context.Context, p *state.PipelineVersionPutParams) (*state.PipelineVersion, bool, error) {
	if p.Slug == "" || p.Hash == "" {
		return nil, false, errors.New("statepg: PipelineVersionPut: Slug and Hash are required")
	}
	var (
		out     *state.PipelineVersion
		created bool
	)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Serialize puts per slug so two writers cannot both pick version N+1.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('ia-go:pipeline:' || $1))`, p.Slug); err != nil {
			return err
		}
		latest, err := scanPipeline(tx.QueryRow(ctx, `SELECT `+pipelineCols+` FROM pipeline_versions
			WHERE slug = $1 ORDER BY version DESC LIMIT 1`, p.Slug))
		next := 1
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		case latest.Hash == p.Hash:
			out = latest
			return nil
		default:
			next = latest.Version + 1
		}
		out, err = scanPipeline(tx.QueryRow(ctx, `INSERT INTO pipeline_versions (id, slug, name, version, hash, definition, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING `+pipelineCols,
			uuid.NewString(), p.Slug, p.Name, next, p.Hash, []byte(p.Definition), time.Now().UTC().Truncate(time.Microsecond)))
		created = err == nil
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("statepg: PipelineVersionPut: %w", s.interpret(err))
	}
	return out, created, nil
}

// PipelineVersionGet implements [state.Store].
func (s *Store) PipelineVersionGet(ctx context.Context, id string) (*state.PipelineVersion, error) {
	pv, err := scanPipeline(s.pool.QueryRow(ctx, `SELECT `+pipelineCols+` FROM pipeline_versions WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("statepg: PipelineVersionGet: %w", s.interpret(err))
	}
	return pv, nil
}

// PipelineVersionLatest implements [state.Store].
func (s *Store) PipelineVersionLatest(ctx context.Context, slug string) (*state.PipelineVersion, error) {
	pv, err := scanPipeline(s.pool.QueryRow(ctx, `SELECT `+pipelineCols+` FROM pipeline_versions
		WHERE slug = $1 ORDER BY version DESC LIMIT 1`, slug))
	if err != nil {
		return nil, fmt.Errorf("statepg: PipelineVersionLatest: %w", s.interpret(err))
	}
	return pv, nil
}

// PipelineVersionList implements [state.Store]: all versions of slug, oldest
// first.
func (s *Store) PipelineVersionList(ctx context.Context, slug string) ([]state.PipelineVersion, error) {
	out, err := collectPipelines(s.pool.Query(ctx, `SELECT `+pipelineCols+` FROM pipeline_versions
		WHERE slug = $1 ORDER BY version`, slug))
	if err != nil {
		return nil, fmt.Errorf("statepg: PipelineVersionList: %w", s.interpret(err))
	}
	return out, nil
}

// PipelineList implements [state.Store]: the latest version of every
// pipeline, by slug.
func (s *Store) PipelineList(ctx context.Context) ([]state.PipelineVersion, error) {
	out, err := collectPipelines(s.pool.Query(ctx, `SELECT DISTINCT ON (slug) `+pipelineCols+`
		FROM pipeline_versions ORDER BY slug, version DESC`))
	if err != nil {
		return nil, fmt.Errorf("statepg: PipelineList: %w", s.interpret(err))
	}
	return out, nil
}
