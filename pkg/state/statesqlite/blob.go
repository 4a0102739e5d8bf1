package statesqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// BlobPut implements [state.Store]. Putting an existing key again keeps the
// first payload: keys are expected to be content-derived.
func (s *Store) BlobPut(ctx context.Context, key string, data []byte) error {
	if data == nil {
		data = []byte{}
	}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO blobs (key, data, created_at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING`,
			key, data, micro(nowUS()))
		return err
	})
	if err != nil {
		return fmt.Errorf("statesqlite: BlobPut: %w", s.interpret(err))
	}
	return nil
}

// BlobGet implements [state.Store].
func (s *Store) BlobGet(ctx context.Context, key string) ([]byte, error) {
	var data []byte
	if err := s.r.QueryRowContext(ctx, `SELECT data FROM blobs WHERE key = ?`, key).Scan(&data); err != nil {
		return nil, fmt.Errorf("statesqlite: BlobGet: %w", s.interpret(err))
	}
	return data, nil
}
