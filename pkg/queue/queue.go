package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Well-known queue names. Step tasks go to TaskQueue(name); completion
// events for the scheduler go to EventsQueue.
const (
	// EventsQueue carries step completions and other run events to schedulers.
	EventsQueue = "events"
	// DefaultTaskQueue is where steps without an explicit queue are sent.
	DefaultTaskQueue = "default"
)

// Sentinel errors returned by brokers.
var (
	// ErrClosed is returned by any call on a broker after Close.
	ErrClosed = errors.New("queue: broker closed")
	// ErrInvalidQueue is returned for an empty or malformed queue name.
	ErrInvalidQueue = errors.New("queue: invalid queue name")
	// ErrInvalidMessage is returned by Publish for a message without an ID.
	ErrInvalidMessage = errors.New("queue: invalid message")
	// ErrAlreadySettled is returned by Ack, Nak or Term on a delivery that is
	// already settled; the first settlement stands.
	ErrAlreadySettled = errors.New("queue: delivery already settled")
)

// Message is one unit of work or one event on a queue.
type Message struct {
	// ID de-duplicates publishes: a second Publish with the same ID within
	// the broker's de-duplication window is accepted but not delivered again.
	// Required.
	ID string
	// Queue is the logical queue name ([a-zA-Z0-9_-]+). Required.
	Queue string
	// Priority orders delivery within a queue where the backend supports it:
	// PriorityHigh is delivered before PriorityNormal, before PriorityLow.
	Priority Priority
	// Headers are small string metadata (run id, step id) for logs and tracing.
	Headers map[string]string
	// Body is the opaque payload.
	Body []byte
}

// Priority is a delivery priority.
type Priority int

// Priorities. The zero value is PriorityNormal.
const (
	PriorityNormal Priority = 0
	PriorityHigh   Priority = 1
	PriorityLow    Priority = -1
)

// Delivery is a message handed to a Handler. Exactly one of Ack, Nak or Term
// settles it; a delivery that is not settled before the ack deadline (or whose
// consumer dies) is delivered again: delivery is at least once.
type Delivery interface {
	Message() Message
	// NumDelivered is 1 on the first delivery and grows on each redelivery.
	NumDelivered() int
	// Ack settles the message: it will not be delivered again.
	Ack(ctx context.Context) error
	// Nak hands the message back for redelivery after delay (0: at once).
	Nak(ctx context.Context, delay time.Duration) error
	// Term settles the message without success: it will not be delivered again.
	Term(ctx context.Context) error
	// InProgress extends the ack deadline (a heartbeat for long work).
	InProgress(ctx context.Context) error
}

// Handler processes deliveries. The handler must settle the delivery; if it
// returns without doing so, the consumer Naks it (with no delay).
type Handler interface {
	Handle(ctx context.Context, d Delivery)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, d Delivery)

// Handle calls f(ctx, d).
func (f HandlerFunc) Handle(ctx context.Context, d Delivery) { f(ctx, d) }

// SubscribeConfig configures a subscription. Zero values take the defaults.
type SubscribeConfig struct {
	// Concurrency is how many deliveries are handled at once. Default 1.
	Concurrency int
	// AckWait is how long a delivery may stay unsettled, without InProgress,
	// before it is redelivered. Default 30s.
	AckWait time.Duration
}

// Subscription is a running consumer.
type Subscription interface {
	// Stop stops fetching new messages and waits, within ctx, for in-flight
	// handlers to return. Safe to call more than once.
	Stop(ctx context.Context) error
}

// Stats describes one queue for operators.
type Stats struct {
	Queue string
	// Pending is the number of messages not yet delivered.
	Pending int64
	// InFlight is the number delivered and not yet settled.
	InFlight int64
}

// Broker publishes messages and delivers them to competing subscribers:
// each message goes to one subscriber of its queue.
type Broker interface {
	// Publish stores m durably before returning; a duplicate ID within the
	// de-duplication window returns nil without a second delivery.
	Publish(ctx context.Context, m Message) error
	// Subscribe starts a consumer that runs until Stop, Close, or the
	// cancellation of ctx (a hard stop that cancels the handlers' contexts).
	Subscribe(ctx context.Context, queue string, cfg SubscribeConfig, h Handler) (Subscription, error)
	Stats(ctx context.Context, queue string) (Stats, error)
	Close() error
}

// BatchPublisher is implemented by brokers that publish several messages
// for about the cost of one: each message is published as by Publish, and
// errs[i] is message i's outcome. A caller with a few messages to publish at
// once (the tasks of a fan-out) uses it when its broker has it.
type BatchPublisher interface {
	PublishBatch(ctx context.Context, ms []Message) (errs []error)
}

// publishAllConcurrency bounds PublishAll's publishes in flight on a broker
// without batches.
const publishAllConcurrency = 32

// PublishAll publishes ms together, so that the last does not wait for every
// earlier acknowledgement: in one batch when b is a [BatchPublisher], else
// concurrently. errs[i] is ms[i]'s outcome.
func PublishAll(ctx context.Context, b Broker, ms []Message) (errs []error) {
	if bp, ok := b.(BatchPublisher); ok {
		return bp.PublishBatch(ctx, ms)
	}
	errs = make([]error, len(ms))
	var wg sync.WaitGroup
	sem := make(chan struct{}, publishAllConcurrency)
	for i, m := range ms {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = b.Publish(ctx, m)
		})
	}
	wg.Wait()
	return errs
}

// ValidateQueue returns an error wrapping ErrInvalidQueue unless name is a
// valid queue name: one or more of [a-zA-Z0-9_-]. Backends rely on this so
// that a queue name is always safe as a NATS subject token or a Redis key part.
func ValidateQueue(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty", ErrInvalidQueue)
	}
	for _, r := range name {
		if !NameRune(r) {
			return fmt.Errorf("%w: %q", ErrInvalidQueue, name)
		}
	}
	return nil
}

// NameRune reports whether r may appear in a queue name: [a-zA-Z0-9_-].
func NameRune(r rune) bool {
	return r == '_' || r == '-' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')
}

// ValidateMessage checks the fields every backend requires of m.
func ValidateMessage(m Message) error {
	if m.ID == "" {
		return fmt.Errorf("%w: empty ID", ErrInvalidMessage)
	}
	return ValidateQueue(m.Queue)
}

// ErrNoReceiver is returned by a direct request that no receiver took: none
// serves the name (it stopped or died).
var ErrNoReceiver = errors.New("queue: no receiver")

// DirectHandler answers one direct request: a broker's request-reply lane
// to one named receiver, with no persistence (see queuenats.Broker.
// RequestDirect). A non-nil error goes back to the requester instead of a
// reply.
type DirectHandler func(ctx context.Context, body []byte) ([]byte, error)
