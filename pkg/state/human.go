package state

import (
	"fmt"
	"time"
)

// Decide applies one HumanTaskDecide to a task read under the store's lock:
// it refuses a task that is no longer pending, records the decision (unless
// it has neither By nor Decision, as for a timeout that only closes), and
// closes the task when its quorum is reached or p.Close is set. Every store
// calls it, so the rule lives in one place.
func (t *HumanTask) Decide(p *HumanTaskDecideParams, now time.Time) error {
	if t.Status != HumanPending {
		return fmt.Errorf("task %s is %s: %w", t.ID, t.Status, ErrAlreadyDecided)
	}
	if d := p.Decision; d.By != "" || d.Decision != nil {
		if d.DecidedAt.IsZero() {
			d.DecidedAt = now
		}
		t.Decisions = append(t.Decisions, d)
	}
	if p.Close || len(t.Decisions) >= max(t.Quorum, 1) {
		t.Status = p.Status
		if t.Status == "" {
			t.Status = HumanDecided
		}
		t.ClosedAt = &now
	}
	return nil
}
