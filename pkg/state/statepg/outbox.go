package statepg

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ia-modules/ia-go/pkg/state"
)

// Defaults for OutboxClaimParams fields left at their zero value.
const (
	OutboxClaimLimitDefault = 100
	OutboxLeaseDefault      = 30 * time.Second
)

// OutboxClaim implements [state.Store]. A zero Now means time.Now(). Rows
// locked by a concurrent claim are skipped, so two relays never get the same
// message while its lease holds.
func (s *Store) OutboxClaim(ctx context.Context, p *state.OutboxClaimParams) ([]state.OutboxMessage, error) {
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = us(now)
	until := now.Add(cmp.Or(p.LeaseFor, OutboxLeaseDefault))
	limit := cmp.Or(p.Limit, OutboxClaimLimitDefault)
	rows, err := s.pool.Query(ctx, `WITH c AS (
			SELECT seq FROM outbox
			WHERE deliver_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1)
			ORDER BY deliver_at, seq
			LIMIT $2
			FOR UPDATE SKIP LOCKED
		)
		UPDATE outbox o SET claimed_until = $3 FROM c WHERE o.seq = c.seq
		RETURNING o.seq, o.run_id, o.queue, o.msg_id, o.priority, o.headers, o.body, o.deliver_at`,
		now, limit, until)
	if err != nil {
		return nil, fmt.Errorf("statepg: OutboxClaim: %w", s.interpret(err))
	}
	defer rows.Close()
	var out []state.OutboxMessage
	for rows.Next() {
		var m state.OutboxMessage
		if err := rows.Scan(&m.Seq, &m.RunID, &m.Queue, &m.MsgID, &m.Priority, &m.Headers, &m.Body, &m.DeliverAt); err != nil {
			return nil, fmt.Errorf("statepg: OutboxClaim: %w", err)
		}
		m.DeliverAt = m.DeliverAt.UTC()
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("statepg: OutboxClaim: %w", s.interpret(err))
	}
	slices.SortFunc(out, func(a, b state.OutboxMessage) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, nil
}

const outboxDeleteSQL = `DELETE FROM outbox WHERE seq = ANY($1)`

// OutboxDelete implements [state.Store]. Unknown seqs are ignored.
func (s *Store) OutboxDelete(ctx context.Context, seqs []int64) error {
	if len(seqs) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, outboxDeleteSQL, seqs); err != nil {
		return fmt.Errorf("statepg: OutboxDelete: %w", s.interpret(err))
	}
	return nil
}

// OutboxNextDue implements [state.Store]. A claimed message counts as due
// when its lease runs out, since that is when it can be claimed again.
func (s *Store) OutboxNextDue(ctx context.Context) (time.Time, bool, error) {
	var at *time.Time
	err := s.pool.QueryRow(ctx, `SELECT min(greatest(deliver_at, coalesce(claimed_until, deliver_at))) FROM outbox`).Scan(&at)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("statepg: OutboxNextDue: %w", s.interpret(err))
	}
	if at == nil {
		return time.Time{}, false, nil
	}
	return at.UTC(), true, nil
}
