package scheduler

import (
	"context"
	"time"

	"github.com/ia-modules/ia-go/pkg/state"
)

// relay publishes committed outbox messages. A scheduler that commits a
// decision signals it at once; it also wakes when a delayed message falls
// due and every RelayPoll for messages another scheduler left behind when it
// died between commit and publish. Publishing is de-duplicated by message
// id, so a message published twice is delivered once.
func (s *Scheduler) relay(ctx context.Context) {
	timer := time.NewTimer(s.cfg.RelayPoll)
	defer timer.Stop()
	deletes := time.NewTimer(time.Hour)
	deletes.Stop()
	defer deletes.Stop()
	defer func() {
		// Deletes queued by the last decisions still run on the way out.
		s.delMu.Lock()
		s.relaying = false
		s.delMu.Unlock()
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		s.flushDeletes(c)
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.delKick:
			// Give the next commit a moment to take the deletes into its
			// own transaction; flush what is left after that.
			if !deletes.Stop() {
				select {
				case <-deletes.C:
				default:
				}
			}
			deletes.Reset(deleteDelay)
			continue
		case <-deletes.C:
			s.flushDeletes(ctx)
			continue
		case <-s.kick:
		case <-timer.C:
		}
		s.flushDeletes(ctx)
		for ctx.Err() == nil {
			n, err := s.relayOnce(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.log.WarnContext(ctx, "scheduler: outbox relay failed", "error", err)
				}
				break
			}
			if n < DefaultRelayBatch {
				break
			}
		}
		wait := s.cfg.RelayPoll
		if due, ok, err := s.cfg.Store.OutboxNextDue(ctx); err == nil && ok {
			if d := time.Until(due); d < wait {
				wait = max(d, time.Millisecond)
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// deleteDelay is how long published outbox rows wait for a commit to delete
// them in its transaction before the relay deletes them in one of its own.
const deleteDelay = 20 * time.Millisecond

func (s *Scheduler) relayOnce(ctx context.Context) (int, error) {
	msgs, err := s.cfg.Store.OutboxClaim(ctx, &state.OutboxClaimParams{Now: time.Now(), Limit: DefaultRelayBatch, LeaseFor: DefaultOutboxLease})
	if err != nil || len(msgs) == 0 {
		return 0, err
	}
	done := make([]int64, 0, len(msgs))
	for _, m := range msgs {
		err := s.cfg.Broker.Publish(ctx, outboxQueueMessage(m))
		if err != nil {
			s.log.WarnContext(ctx, "scheduler: publish failed; the lease will expire and it is retried", "run_id", m.RunID, "error", err)
			continue
		}
		done = append(done, m.Seq)
	}
	s.metrics.published.Add(float64(len(done)))
	if len(done) > 0 {
		if err := s.cfg.Store.OutboxDelete(ctx, done); err != nil {
			return len(msgs), err
		}
	}
	return len(msgs), nil
}
