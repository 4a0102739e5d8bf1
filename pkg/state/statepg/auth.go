package statepg

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ia-modules/ia-go/pkg/state"
)

var _ state.Auth = (*Store)(nil)

// AuditListLimitDefault is the result cap when AuditListParams.Limit is zero.
const AuditListLimitDefault = 100

const tokenCols = `id, name, role, hash, created_by, created_at, revoked_at`

func scanToken(row pgx.Row) (*state.Token, error) {
	var t state.Token
	if err := row.Scan(&t.ID, &t.Name, &t.Role, &t.Hash, &t.CreatedBy, &t.CreatedAt, &t.RevokedAt); err != nil {
		return nil, err
	}
	t.CreatedAt = t.CreatedAt.UTC()
	t.RevokedAt = utcPtr(t.RevokedAt)
	return &t, nil
}

// TokenCreate implements [state.Auth].
func (s *Store) TokenCreate(ctx context.Context, p *state.TokenCreateParams) (*state.Token, error) {
	id := cmp.Or(p.ID, uuid.NewString())
	t, err := scanToken(s.pool.QueryRow(ctx, `INSERT INTO api_tokens (id, name, role, hash, created_by, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+tokenCols,
		id, p.Name, p.Role, p.Hash, p.CreatedBy, time.Now().UTC().Truncate(time.Microsecond)))
	if pgCode(err) == codeUniqueViolation {
		return nil, fmt.Errorf("statepg: TokenCreate: %w", state.ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("statepg: TokenCreate: %w", s.interpret(err))
	}
	return t, nil
}

// TokenGet implements [state.Auth].
func (s *Store) TokenGet(ctx context.Context, hash string) (*state.Token, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE hash = $1`, hash))
	if err != nil {
		return nil, fmt.Errorf("statepg: TokenGet: %w", s.interpret(err))
	}
	return t, nil
}

// TokenList implements [state.Auth].
func (s *Store) TokenList(ctx context.Context, p *state.TokenListParams) ([]state.Token, error) {
	q := `SELECT ` + tokenCols + ` FROM api_tokens`
	if !p.IncludeRevoked {
		q += ` WHERE revoked_at IS NULL`
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("statepg: TokenList: %w", s.interpret(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (state.Token, error) {
		t, err := scanToken(r)
		if err != nil {
			return state.Token{}, err
		}
		return *t, nil
	})
	if err != nil {
		return nil, fmt.Errorf("statepg: TokenList: %w", s.interpret(err))
	}
	return out, nil
}

// TokenRevoke implements [state.Auth].
func (s *Store) TokenRevoke(ctx context.Context, id string) (*state.Token, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2)
		WHERE id = $1 RETURNING `+tokenCols, id, time.Now().UTC().Truncate(time.Microsecond)))
	if err != nil {
		return nil, fmt.Errorf("statepg: TokenRevoke: %w", s.interpret(err))
	}
	return t, nil
}

// AuditInsert implements [state.Auth].
func (s *Store) AuditInsert(ctx context.Context, e *state.AuditEntry) error {
	at := e.At
	if at.IsZero() {
		at = time.Now()
	}
	var details any
	if len(e.Details) > 0 {
		details = []byte(e.Details)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_log (at, actor, role, action, method, path, target, status, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		at.UTC().Truncate(time.Microsecond), e.Actor, e.Role, e.Action, e.Method, e.Path, e.Target, e.Status, details)
	if err != nil {
		return fmt.Errorf("statepg: AuditInsert: %w", s.interpret(err))
	}
	return nil
}

// AuditList implements [state.Auth]: newest first.
func (s *Store) AuditList(ctx context.Context, p *state.AuditListParams) ([]state.AuditEntry, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if p.Actor != "" {
		add("actor = ?", p.Actor)
	}
	if p.Action != "" {
		add("action = ?", p.Action)
	}
	if p.Target != "" {
		add("target = ?", p.Target)
	}
	q := `SELECT id, at, actor, role, action, method, path, target, status, details FROM audit_log`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, cmp.Or(p.Limit, AuditListLimitDefault))
	q += ` ORDER BY id DESC LIMIT $` + strconv.Itoa(len(args))
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("statepg: AuditList: %w", s.interpret(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (state.AuditEntry, error) {
		var (
			e       state.AuditEntry
			details []byte
		)
		err := r.Scan(&e.ID, &e.At, &e.Actor, &e.Role, &e.Action, &e.Method, &e.Path, &e.Target, &e.Status, &details)
		e.At, e.Details = e.At.UTC(), details
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("statepg: AuditList: %w", s.interpret(err))
	}
	return out, nil
}
