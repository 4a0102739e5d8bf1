package statepg

import (
	"context"
	"fmt"
)

// BlobPut implements [state.Store]. Putting an existing key again keeps the
// first payload: keys are expected to be content-derived.
func (s *Store) BlobPut(ctx context.Context, key string, data []byte) error {
	if data == nil {
		data = []byte{}
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO blobs (key, data) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`, key, data); err != nil {
		return fmt.Errorf("statepg: BlobPut: %w", s.interpret(err))
	}
	return nil
}

// BlobGet implements [state.Store].
func (s *Store) BlobGet(ctx context.Context, key string) ([]byte, error) {
	var data []byte
	if err := s.pool.QueryRow(ctx, `SELECT data FROM blobs WHERE key = $1`, key).Scan(&data); err != nil {
		return nil, fmt.Errorf("statepg: BlobGet: %w", s.interpret(err))
	}
	return data, nil
}
