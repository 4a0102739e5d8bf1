package statesqlite

import (
	"cmp"
	"context"
	"database/sql"
	_ "embed"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ia-modules/ia-go/pkg/state"
)

var _ state.Auth = (*Store)(nil)

// authSchemaSQL creates the token and audit tables; New applies it after
// schema.sql.
//
//go:embed auth.sql
var authSchemaSQL string

// AuditListLimitDefault is the result cap when AuditListParams.Limit is zero.
const AuditListLimitDefault = 100

const tokenCols = `id, name, role, hash, created_by, created_at, revoked_at`

func scanToken(row scanner) (*state.Token, error) {
	var (
		t       state.Token
		created int64
		revoked sql.NullInt64
	)
	if err := row.Scan(&t.ID, &t.Name, &t.Role, &t.Hash, &t.CreatedBy, &created, &revoked); err != nil {
		return nil, err
	}
	t.CreatedAt, t.RevokedAt = fromMicro(created), fromMicroNull(revoked)
	return &t, nil
}

// TokenCreate implements [state.Auth].
func (s *Store) TokenCreate(ctx context.Context, p *state.TokenCreateParams) (*state.Token, error) {
	id := cmp.Or(p.ID, uuid.NewString())
	var t *state.Token
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = scanToken(tx.QueryRowContext(ctx, `INSERT INTO api_tokens (id, name, role, hash, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING `+tokenCols, id, p.Name, p.Role, p.Hash, p.CreatedBy, micro(nowUS())))
		return err
	})
	if isUnique(err) {
		return nil, fmt.Errorf("statesqlite: TokenCreate: %w", state.ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("statesqlite: TokenCreate: %w", s.interpret(err))
	}
	return t, nil
}

// TokenGet implements [state.Auth].
func (s *Store) TokenGet(ctx context.Context, hash string) (*state.Token, error) {
	t, err := scanToken(s.r.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE hash = ?`, hash))
	if err != nil {
		return nil, fmt.Errorf("statesqlite: TokenGet: %w", s.interpret(err))
	}
	return t, nil
}

// TokenList implements [state.Auth].
func (s *Store) TokenList(ctx context.Context, p *state.TokenListParams) ([]state.Token, error) {
	q := `SELECT ` + tokenCols + ` FROM api_tokens`
	if !p.IncludeRevoked {
		q += ` WHERE revoked_at IS NULL`
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("statesqlite: TokenList: %w", s.interpret(err))
	}
	defer rows.Close()
	var out []state.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("statesqlite: TokenList: %w", err)
		}
		out = append(out, *t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("statesqlite: TokenList: %w", s.interpret(err))
	}
	return out, nil
}

// TokenRevoke implements [state.Auth].
func (s *Store) TokenRevoke(ctx context.Context, id string) (*state.Token, error) {
	var t *state.Token
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = scanToken(tx.QueryRowContext(ctx, `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?)
			WHERE id = ? RETURNING `+tokenCols, micro(nowUS()), id))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("statesqlite: TokenRevoke: %w", s.interpret(err))
	}
	return t, nil
}

// AuditInsert implements [state.Auth].
func (s *Store) AuditInsert(ctx context.Context, e *state.AuditEntry) error {
	at := e.At
	if at.IsZero() {
		at = time.Now()
	}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO audit_log (at, actor, role, action, method, path, target, status, details)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			micro(at), e.Actor, e.Role, e.Action, e.Method, e.Path, e.Target, e.Status, jsonArg(e.Details))
		return err
	})
	if err != nil {
		return fmt.Errorf("statesqlite: AuditInsert: %w", s.interpret(err))
	}
	return nil
}

// AuditList implements [state.Auth]: newest first.
func (s *Store) AuditList(ctx context.Context, p *state.AuditListParams) ([]state.AuditEntry, error) {
	var (
		where []string
		args  []any
	)
	for _, f := range []struct{ col, v string }{{"actor", p.Actor}, {"action", p.Action}, {"target", p.Target}} {
		if f.v != "" {
			where = append(where, f.col+" = ?")
			args = append(args, f.v)
		}
	}
	q := `SELECT id, at, actor, role, action, method, path, target, status, details FROM audit_log`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, cmp.Or(p.Limit, AuditListLimitDefault))
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("statesqlite: AuditList: %w", s.interpret(err))
	}
	defer rows.Close()
	var out []state.AuditEntry
	for rows.Next() {
		var (
			e       state.AuditEntry
			at      int64
			details sql.NullString
		)
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Role, &e.Action, &e.Method, &e.Path, &e.Target, &e.Status, &details); err != nil {
			return nil, fmt.Errorf("statesqlite: AuditList: %w", err)
		}
		e.At, e.Details = fromMicro(at), jsonCol(details)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("statesqlite: AuditList: %w", s.interpret(err))
	}
	return out, nil
}
