package queueasynq

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/ia-modules/ia-go/pkg/queue"
)

type delivery struct {
	msg       queue.Message
	delivered int

	outcome  chan error    // buffered 1: the settlement handed to asynq
	progress chan struct{} // buffered 1: InProgress pings

	mu      sync.Mutex
	settled bool
	expired bool
}

func newDelivery(actx context.Context, q string, t *asynq.Task) *delivery {
	d := &delivery{
		msg:       queue.Message{Queue: q, Body: t.Payload()},
		delivered: 1,
		outcome:   make(chan error, 1),
		progress:  make(chan struct{}, 1),
	}
	if h := t.Headers(); len(h) > 0 {
		d.msg.Headers = h
	}
	d.msg.ID, _ = asynq.GetTaskID(actx)
	if n, ok := asynq.GetRetryCount(actx); ok {
		d.delivered = n + 1
	}
	if name, ok := asynq.GetQueueName(actx); ok {
		switch {
		case strings.HasSuffix(name, ":high"):
			d.msg.Priority = queue.PriorityHigh
		case strings.HasSuffix(name, ":low"):
			d.msg.Priority = queue.PriorityLow
		}
	}
	return d
}

func (d *delivery) Message() queue.Message { return d.msg }
func (d *delivery) NumDelivered() int      { return d.delivered }

// Ack returns once the outcome is handed to asynq, which then records it;
// unlike JetStream there is no confirmation to wait for.
func (d *delivery) Ack(context.Context) error { return d.settle(nil) }

func (d *delivery) Nak(_ context.Context, delay time.Duration) error {
	return d.settle(&nakError{delay: max(delay, 0), why: "nak"})
}

func (d *delivery) Term(context.Context) error {
	return d.settle(fmt.Errorf("queueasynq: term: %w", asynq.SkipRetry))
}

// InProgress restarts the AckWait clock. asynq extends its own lease on the
// task while the handler runs, so nothing goes to Redis.
func (d *delivery) InProgress(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.closedErr(); err != nil {
		return err
	}
	select {
	case d.progress <- struct{}{}:
	default: // a ping is already pending; one is enough
	}
	return nil
}

func (d *delivery) settle(err error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if cerr := d.closedErr(); cerr != nil {
		return cerr
	}
	d.settled = true
	d.outcome <- err
	return nil
}

// ErrAckWaitExpired is returned by a settle call or InProgress made after
// the delivery's AckWait ran out: the message has already been handed back
// for redelivery, so the work may be done twice.
var ErrAckWaitExpired = fmt.Errorf("queueasynq: ack wait expired")

func (d *delivery) closedErr() error {
	switch {
	case d.settled:
		return queue.ErrAlreadySettled
	case d.expired:
		return ErrAckWaitExpired
	}
	return nil
}

// finish runs after the handler returns: an unsettled delivery is Nak'ed.
func (d *delivery) finish() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closedErr() == nil {
		d.settled = true
		d.outcome <- &nakError{why: "handler returned without settling"}
	}
}

// expire ends the delivery at AckWait unless it was settled meanwhile (then
// ok is false and the outcome is already waiting in the channel).
func (d *delivery) expire() (error, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.settled {
		return nil, false
	}
	d.expired = true
	return &nakError{why: "ack wait expired"}, true
}
