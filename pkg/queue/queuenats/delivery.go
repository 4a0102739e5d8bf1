package queuenats

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ia-modules/ia-go/pkg/queue"
)

type delivery struct {
	m         jetstream.Msg
	msg       queue.Message
	delivered int
	settled   atomic.Bool
}

func newDelivery(q string, m jetstream.Msg) *delivery {
	d := &delivery{m: m, delivered: 1}
	d.msg = queue.Message{Queue: q, Body: m.Data()}
	for k, vs := range m.Headers() {
		switch {
		case k == jetstream.MsgIDHeader:
			d.msg.ID = m.Headers().Get(k)
		case k == headerPriority:
			p, _ := strconv.Atoi(m.Headers().Get(k))
			d.msg.Priority = queue.Priority(p)
		case isReserved(k) || len(vs) == 0:
		default:
			if d.msg.Headers == nil {
				d.msg.Headers = make(map[string]string)
			}
			d.msg.Headers[k] = vs[0]
		}
	}
	if md, err := m.Metadata(); err == nil {
		d.delivered = int(md.NumDelivered)
	}
	return d
}

func (d *delivery) Message() queue.Message { return d.msg }
func (d *delivery) NumDelivered() int      { return d.delivered }
func (d *delivery) isSettled() bool        { return d.settled.Load() }

// Ack sends the ack without waiting for the server to confirm it, which
// would cost a round trip per message. A nil error means the ack was
// written to the connection (or its reconnect buffer); an ack lost on the
// way, which only a dropped connection can cause, leaves the message
// unsettled, so it is delivered again after AckWait, as any delivery may
// be (at least once).
func (d *delivery) Ack(_ context.Context) error {
	return d.settle("ack", d.m.Ack)
}

func (d *delivery) Nak(_ context.Context, delay time.Duration) error {
	if delay <= 0 {
		return d.settle("nak", d.m.Nak)
	}
	return d.settle("nak", func() error { return d.m.NakWithDelay(delay) })
}

func (d *delivery) Term(_ context.Context) error {
	return d.settle("term", d.m.Term)
}

func (d *delivery) InProgress(_ context.Context) error {
	if d.settled.Load() {
		return queue.ErrAlreadySettled
	}
	if err := d.m.InProgress(); err != nil {
		return fmt.Errorf("queuenats: in progress: %w", err)
	}
	return nil
}

// settle runs fn once; a failed fn leaves the delivery unsettled so the
// caller, or the subscription's fallback Nak, can try again.
func (d *delivery) settle(op string, fn func() error) error {
	if !d.settled.CompareAndSwap(false, true) {
		return queue.ErrAlreadySettled
	}
	if err := fn(); err != nil {
		d.settled.Store(false)
		return fmt.Errorf("queuenats: %s: %w", op, err)
	}
	return nil
}
