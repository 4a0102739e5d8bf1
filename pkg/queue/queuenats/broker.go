package queuenats

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ia-modules/ia-go/pkg/queue"
)

// Defaults for Config's zero values.
const (
	DefaultURL             = nats.DefaultURL
	DefaultPrefix          = "ia"
	DefaultDuplicateWindow = 2 * time.Minute
	DefaultAckWait         = 30 * time.Second
)

// headerPriority carries Message.Priority; the broker reserves it.
const headerPriority = "Ia-Priority"

const (
	// closeTimeout bounds the server calls made by Close, which has no ctx.
	closeTimeout = 5 * time.Second
)

// Config configures a Broker. Zero values take the documented defaults.
type Config struct {
	// URL of the NATS server. Default DefaultURL (nats://127.0.0.1:4222).
	// Ignored when Conn is set.
	URL string
	// Conn is an existing connection to use instead of dialing URL. The
	// broker does not close it.
	Conn *nats.Conn
	// Prefix namespaces the stream (<prefix>_q), its subjects
	// (<prefix>.q.<queue>) and consumers (<prefix>_q_<queue>). Same
	// alphabet as queue names. Default "ia".
	Prefix string
	// DuplicateWindow is how long a Message.ID is remembered for
	// de-duplication. Default 2m.
	DuplicateWindow time.Duration
	// DeleteOnClose deletes the stream, and with it every message and
	// consumer, on Close. For tests.
	DeleteOnClose bool
	// Logger defaults to Warn level on stdout.
	Logger *slog.Logger
}

// Broker is a queue.Broker on one JetStream work-queue stream.
type Broker struct {
	cfg    Config
	nc     *nats.Conn
	ownNC  bool
	js     jetstream.JetStream
	stream jetstream.Stream
	log    *slog.Logger

	mu      sync.Mutex
	closed  bool
	subs    map[*subscription]struct{}
	directs map[*directSub]struct{} // running ServeDirects
}

var _ queue.Broker = (*Broker)(nil)

// New connects (unless cfg.Conn is set) and creates or updates the stream.
func New(ctx context.Context, cfg Config) (*Broker, error) {
	cfg.URL = cmp.Or(cfg.URL, DefaultURL)
	cfg.Prefix = cmp.Or(cfg.Prefix, DefaultPrefix)
	cfg.DuplicateWindow = cmp.Or(cfg.DuplicateWindow, DefaultDuplicateWindow)
	if err := queue.ValidateQueue(cfg.Prefix); err != nil {
		return nil, fmt.Errorf("queuenats: prefix: %w", err)
	}
	if cfg.DuplicateWindow < 0 {
		return nil, fmt.Errorf("queuenats: negative DuplicateWindow %v", cfg.DuplicateWindow)
	}
	b := &Broker{
		cfg:  cfg,
		nc:   cfg.Conn,
		log:  cfg.Logger,
		subs: make(map[*subscription]struct{}),
	}
	if b.log == nil {
		b.log = slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if b.nc == nil {
		nc, err := nats.Connect(cfg.URL, nats.Name("ia-queue"), nats.MaxReconnects(-1))
		if err != nil {
			return nil, fmt.Errorf("queuenats: connect %s: %w", cfg.URL, err)
		}
		b.nc, b.ownNC = nc, true
	}
	js, err := jetstream.New(b.nc)
	if err != nil {
		b.closeConn()
		return nil, fmt.Errorf("queuenats: jetstream: %w", err)
	}
	b.js = js
	scfg := jetstream.StreamConfig{
		Name:        b.streamName(),
		Description: "ia-modules work queues",
		Subjects:    []string{cfg.Prefix + ".q.>"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Duplicates:  cfg.DuplicateWindow,
	}
	for attempt := 1; ; attempt++ {
		b.stream, err = js.CreateOrUpdateStream(ctx, scfg)
		if !isStoreRace(err) || attempt == storeRaceAttempts {
			break
		}
		select {
		case <-time.After(time.Duration(attempt) * 20 * time.Millisecond):
		case <-ctx.Done():
		}
	}
	if err != nil {
		b.closeConn()
		return nil, fmt.Errorf("queuenats: create stream %s: %w", b.streamName(), err)
	}
	return b, nil
}

// storeRaceAttempts bounds the retries of isStoreRace failures.
const storeRaceAttempts = 5

// isStoreRace reports the server failing to create a stream's store
// directory (JSStreamStoreFailedF). nats-server removes the account's
// streams directory when its last stream is deleted, so a create racing
// that delete fails once and succeeds when tried again.
func isStoreRace(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.ErrorCode(10049)
}

func (b *Broker) streamName() string           { return streamOf(b.cfg.Prefix) }
func (b *Broker) subject(q string) string      { return b.cfg.Prefix + ".q." + q }
func (b *Broker) consumerName(q string) string { return b.cfg.Prefix + "_q_" + q }
func (b *Broker) isClosed() bool               { b.mu.Lock(); defer b.mu.Unlock(); return b.closed }
func (b *Broker) closeConn() {
	if b.ownNC {
		b.nc.Close()
	}
}

// Publish stores m in the stream and waits for the stream's
// acknowledgement. Message.ID becomes the Nats-Msg-Id, so the server drops a
// repeat within DuplicateWindow; that counts as success. Priority is
// carried in a header but does not change the delivery order: JetStream
// delivers a consumer's messages in stream order.
func (b *Broker) Publish(ctx context.Context, m queue.Message) error {
	if b.isClosed() {
		return queue.ErrClosed
	}
	msg, err := b.natsMsg(m)
	if err != nil {
		return err
	}
	if _, err := b.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("queuenats: publish %s: %w", m.Queue, err)
	}
	return nil
}

var _ queue.BatchPublisher = (*Broker)(nil)

// PublishBatch implements [queue.BatchPublisher] with JetStream's
// asynchronous publish: every message is sent at once and then their
// acknowledgements are awaited together, instead of one round trip each. A
// message whose acknowledgement does not come within ctx (or
// publishAckWait when ctx has no deadline) gets an error; it may still have
// been stored, and publishing it again is de-duplicated by its ID.
func (b *Broker) PublishBatch(ctx context.Context, ms []queue.Message) []error {
	errs := make([]error, len(ms))
	if b.isClosed() {
		for i := range errs {
			errs[i] = queue.ErrClosed
		}
		return errs
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, publishAckWait)
		defer cancel()
	}
	futures := make([]jetstream.PubAckFuture, len(ms))
	for i, m := range ms {
		msg, err := b.natsMsg(m)
		if err == nil {
			futures[i], err = b.js.PublishMsgAsync(msg)
		}
		if err != nil {
			errs[i] = fmt.Errorf("queuenats: publish %s: %w", m.Queue, err)
		}
	}
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case <-f.Ok():
		case err := <-f.Err():
			errs[i] = fmt.Errorf("queuenats: publish %s: %w", ms[i].Queue, err)
		case <-ctx.Done():
			errs[i] = fmt.Errorf("queuenats: publish %s: %w", ms[i].Queue, ctx.Err())
		}
	}
	return errs
}

// publishAckWait bounds the wait for a batch's acknowledgements when the
// caller set no deadline, as the synchronous publish's default timeout does.
const publishAckWait = 5 * time.Second

// natsMsg builds m's JetStream message: the subject of its queue, its
// headers, its priority and its ID as the de-duplication id.
func (b *Broker) natsMsg(m queue.Message) (*nats.Msg, error) {
	if err := queue.ValidateMessage(m); err != nil {
		return nil, err
	}
	msg := &nats.Msg{
		Subject: b.subject(m.Queue),
		Header:  make(nats.Header, len(m.Headers)+2),
		Data:    m.Body,
	}
	for k, v := range m.Headers {
		if isReserved(k) {
			continue
		}
		msg.Header.Set(k, v)
	}
	if m.Priority != queue.PriorityNormal {
		msg.Header.Set(headerPriority, strconv.Itoa(int(m.Priority)))
	}
	msg.Header.Set(jetstream.MsgIDHeader, m.ID)
	return msg, nil
}

// isReserved reports header keys owned by NATS or by this package.
func isReserved(k string) bool {
	return strings.HasPrefix(k, "Nats-") || k == headerPriority
}

// Stats reads the queue's durable consumer: Pending is NumPending and
// InFlight is NumAckPending (which includes messages prefetched by
// subscribers but not yet handed to a handler). Before the first Subscribe
// there is no consumer and every stored message counts as Pending.
func (b *Broker) Stats(ctx context.Context, q string) (queue.Stats, error) {
	if b.isClosed() {
		return queue.Stats{}, queue.ErrClosed
	}
	if err := queue.ValidateQueue(q); err != nil {
		return queue.Stats{}, err
	}
	st := queue.Stats{Queue: q}
	c, err := b.stream.Consumer(ctx, b.consumerName(q))
	switch {
	case err == nil:
		info, err := c.Info(ctx)
		if err != nil {
			return st, fmt.Errorf("queuenats: consumer info %s: %w", q, err)
		}
		st.Pending = int64(info.NumPending)
		st.InFlight = int64(info.NumAckPending)
		return st, nil
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		subj := b.subject(q)
		info, err := b.stream.Info(ctx, jetstream.WithSubjectFilter(subj))
		if err != nil {
			return st, fmt.Errorf("queuenats: stream info %s: %w", q, err)
		}
		st.Pending = int64(info.State.Subjects[subj])
		return st, nil
	default:
		return st, fmt.Errorf("queuenats: consumer %s: %w", q, err)
	}
}

// Close hard-stops every subscription (cancelling handler contexts and
// waiting for handlers to return), deletes the stream if DeleteOnClose, and
// closes the connection the broker dialed. Safe to call more than once.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	subs := make([]*subscription, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	directs := make([]*directSub, 0, len(b.directs))
	for d := range b.directs {
		directs = append(directs, d)
	}
	b.mu.Unlock()

	for _, d := range directs {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		_ = d.Stop(ctx)
		cancel()
	}

	for _, s := range subs {
		s.hardStop()
		<-s.done
	}
	var err error
	if b.cfg.DeleteOnClose {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		if derr := b.js.DeleteStream(ctx, b.streamName()); derr != nil && !errors.Is(derr, jetstream.ErrStreamNotFound) {
			err = fmt.Errorf("queuenats: delete stream: %w", derr)
		}
		cancel()
	}
	b.closeConn()
	return err
}

func (b *Broker) forget(s *subscription) {
	b.mu.Lock()
	delete(b.subs, s)
	b.mu.Unlock()
}
