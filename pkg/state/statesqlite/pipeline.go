package statesqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/ia-modules/ia-go/pkg/state"
)

const pipelineCols = `id, slug, name, version, hash, definition, created_at`

type scanner interface{ Scan(dest ...any) error }

func scanPipeline(row scanner) (*state.PipelineVersion, error) {
	var (
		pv  state.PipelineVersion
		def string
		at  int64
	)
	if err := row.Scan(&pv.ID, &pv.Slug, &pv.Name, &pv.Version, &pv.Hash, &def, &at); err != nil {
		return nil, err
	}
	pv.Definition, pv.CreatedAt = []byte(def), fromMicro(at)
	return &pv, nil
}

func (s *Store) listPipelines(ctx context.Context, q string, args ...any) ([]state.PipelineVersion, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
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
		return nil, false, errors.New("statesqlite: PipelineVersionPut: Slug and Hash are required")
	}
	var (
		out     *state.PipelineVersion
		created bool
	)
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		latest, err := scanPipeline(tx.QueryRowContext(ctx, `SELECT `+pipelineCols+` FROM pipeline_versions
			WHERE slug = ? ORDER BY version DESC LIMIT 1`, p.Slug))
		next := 1
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case latest.Hash == p.Hash:
			out = latest
			return nil
		default:
			next = latest.Version + 1
		}
		out = &state.PipelineVersion{ID: uuid.NewString(), Slug: p.Slug, Name: p.Name, Version: next, Hash: p.Hash,
			Definition: p.Definition, CreatedAt: nowUS()}
		_, err = tx.ExecContext(ctx, `INSERT INTO pipeline_versions (`+pipelineCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			out.ID, out.Slug, out.Name, out.Version, out.Hash, string(out.Definition), micro(out.CreatedAt))
		created = err == nil
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("statesqlite: PipelineVersionPut: %w", s.interpret(err))
	}
	return out, created, nil
}

// PipelineVersionGet implements [state.Store].
func (s *Store) PipelineVersionGet(ctx context.Context, id string) (*state.PipelineVersion, error) {
	pv, err := scanPipeline(s.r.QueryRowContext(ctx, `SELECT `+pipelineCols+` FROM pipeline_versions WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("statesqlite: PipelineVersionGet: %w", s.interpret(err))
	}
	return pv, nil
}

// PipelineVersionLatest implements [state.Store].
func (s *Store) PipelineVersionLatest(ctx context.Context, slug string) (*state.PipelineVersion, error) {
	pv, err := scanPipeline(s.r.QueryRowContext(ctx, `SELECT `+pipelineCols+` FROM pipeline_versions
		WHERE slug = ? ORDER BY version DESC LIMIT 1`, slug))
	if err != nil {
		return nil, fmt.Errorf("statesqlite: PipelineVersionLatest: %w", s.interpret(err))
	}
	return pv, nil
}

// PipelineVersionList implements [state.Store]: oldest first.
func (s *Store) PipelineVersionList(ctx context.Context, slug string) ([]state.PipelineVersion, error) {
	out, err := s.listPipelines(ctx, `SELECT `+pipelineCols+` FROM pipeline_versions WHERE slug = ? ORDER BY version`, slug)
	if err != nil {
		return nil, fmt.Errorf("statesqlite: PipelineVersionList: %w", s.interpret(err))
	}
	return out, nil
}

// PipelineList implements [state.Store]: the latest version of every
// pipeline, by slug.
func (s *Store) PipelineList(ctx context.Context) ([]state.PipelineVersion, error) {
	out, err := s.listPipelines(ctx, `SELECT `+pipelineCols+` FROM pipeline_versions p
		WHERE version = (SELECT max(version) FROM pipeline_versions WHERE slug = p.slug) ORDER BY slug`)
	if err != nil {
		return nil, fmt.Errorf("statesqlite: PipelineList: %w", s.interpret(err))
	}
	return out, nil
}
