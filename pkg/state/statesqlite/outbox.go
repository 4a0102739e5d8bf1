package statesqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ia-modules/ia-go/pkg/state"
)

// Defaults for OutboxClaimParams fields left at their zero value.
const (
	OutboxClaimLimitDefault = 100
	OutboxLeaseDefault      = 30 * time.Second
)

// OutboxClaim implements [state.Store]. A zero Now means time.Now(). The
// single writer connection serializes claims, so two relays never get the
// same message while its lease holds.
func (s *Store) OutboxClaim(ctx context.Context, p *state.OutboxClaimParams) ([]state.OutboxMessage, error) {
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	lease := p.LeaseFor
	if lease <= 0 {
		lease = OutboxLeaseDefault
	}
	limit := p.Limit
	if limit <= 0 {
		limit = OutboxClaimLimitDefault
	}
	var out []state.OutboxMessage
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.StmtContext(ctx, s.stmts.outboxClaim).QueryContext(ctx, micro(now.Add(lease)), micro(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				m       state.OutboxMessage
				headers sql.NullString
				at      int64
			)
			if err := rows.Scan(&m.Seq, &m.RunID, &m.Queue, &m.MsgID, &m.Priority, &headers, &m.Body, &at); err != nil {
				return err
			}
			if headers.Valid {
				if err := json.Unmarshal([]byte(headers.String), &m.Headers); err != nil {
					return fmt.Errorf("headers: %w", err)
				}
			}
			m.DeliverAt = fromMicro(at)
			out = append(out, m)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("statesqlite: OutboxClaim: %w", s.interpret(err))
	}
	sortBySeq(out)
	return out, nil
}

func sortBySeq(ms []state.OutboxMessage) {
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && ms[j].Seq < ms[j-1].Seq; j-- {
			ms[j], ms[j-1] = ms[j-1], ms[j]
		}
	}
}

// OutboxDelete implements [state.Store]. Unknown seqs are ignored.
func (s *Store) OutboxDelete(ctx context.Context, seqs []int64) error {
	if len(seqs) == 0 {
		return nil
	}
	list, err := json.Marshal(seqs)
	if err != nil {
		return fmt.Errorf("statesqlite: OutboxDelete: %w", err)
	}
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.StmtContext(ctx, s.stmts.outboxDelete).ExecContext(ctx, string(list))
		return err
	})
	if err != nil {
		return fmt.Errorf("statesqlite: OutboxDelete: %w", s.interpret(err))
	}
	return nil
}

// OutboxNextDue implements [state.Store]. A claimed message counts as due
// when its lease runs out, since that is when it can be claimed again.
func (s *Store) OutboxNextDue(ctx context.Context) (time.Time, bool, error) {
	var at sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT min(max(deliver_at, coalesce(claimed_until, deliver_at))) FROM outbox`).Scan(&at)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("statesqlite: OutboxNextDue: %w", s.interpret(err))
	}
	if !at.Valid {
		return time.Time{}, false, nil
	}
	return fromMicro(at.Int64), true, nil
}
