package queueasynq

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/ia-modules/ia-go/pkg/queue"
)

// Defaults for Config's zero values.
const (
	DefaultRedisURL                 = "redis://127.0.0.1:6379/0"
	DefaultPrefix                   = "ia"
	DefaultDuplicateWindow          = 2 * time.Minute
	DefaultTaskCheckInterval        = 5 * time.Millisecond
	DefaultDelayedTaskCheckInterval = 100 * time.Millisecond
	DefaultAckWait                  = 30 * time.Second
)

const (
	// taskType is the asynq type of every task; routing is by queue, not type.
	taskType = "ia"
	// maxRetry keeps asynq from ever archiving a task on its own: the engine
	// owns retries, and a task whose worker crashed must come back however
	// often that has happened.
	maxRetry = math.MaxInt32
	// taskTimeout is asynq's per-task deadline. Our AckWait (extended by
	// InProgress) is the real one; this only caps a heartbeating handler.
	taskTimeout = 24 * time.Hour
	// shutdownTimeout is how long asynq waits for its workers at Shutdown.
	// Ours return as soon as the handler settles or its context is cancelled.
	shutdownTimeout = 5 * time.Second
	// closeTimeout bounds the Redis calls made by Close, which has no ctx.
	closeTimeout = 30 * time.Second
)

// Config configures a Broker. Zero values take the documented defaults.
type Config struct {
	// RedisURL is a redis:// or rediss:// URL. Default DefaultRedisURL.
	// Ignored when Redis is set.
	RedisURL string
	// Redis is an existing client to use instead of RedisURL. The broker does
	// not close it.
	Redis redis.UniversalClient
	// Prefix namespaces queue names: queue q is the asynq queue
	// "<prefix>:q", with "<prefix>:q:high" and "<prefix>:q:low" for the
	// other priorities. Same alphabet as queue names. Default "ia".
	Prefix string
	// DuplicateWindow is how long a settled task's ID is kept (asynq
	// Retention) so that a repeated Publish is dropped. Default 2m.
	DuplicateWindow time.Duration
	// TaskCheckInterval is how often an idle subscriber polls Redis for new
	// tasks; it bounds the publish-to-handler latency of an idle queue (see
	// the package doc). Default 5ms.
	TaskCheckInterval time.Duration
	// DelayedTaskCheckInterval is how often Nak'ed tasks whose delay has
	// passed are moved back to their queue. Default 100ms.
	DelayedTaskCheckInterval time.Duration
	// DeleteOnClose deletes every asynq queue this broker touched, with its
	// tasks, on Close. For tests.
	DeleteOnClose bool
	// Logger defaults to Warn level on stdout.
	Logger *slog.Logger
}

// Broker is a queue.Broker on asynq.
type Broker struct {
	cfg       Config
	rdb       redis.UniversalClient
	ownRDB    bool
	client    *asynq.Client
	inspector *asynq.Inspector
	log       *slog.Logger

	mu      sync.Mutex
	closed  bool
	subs    map[*subscription]struct{}
	touched map[string]struct{} // asynq queue names, for DeleteOnClose
}

var _ queue.Broker = (*Broker)(nil)

// New creates a broker. It pings Redis so a wrong URL fails here.
func New(ctx context.Context, cfg Config) (*Broker, error) {
	cfg.RedisURL = cmp.Or(cfg.RedisURL, DefaultRedisURL)
	cfg.Prefix = cmp.Or(cfg.Prefix, DefaultPrefix)
	cfg.DuplicateWindow = cmp.Or(cfg.DuplicateWindow, DefaultDuplicateWindow)
	cfg.TaskCheckInterval = cmp.Or(cfg.TaskCheckInterval, DefaultTaskCheckInterval)
	cfg.DelayedTaskCheckInterval = cmp.Or(cfg.DelayedTaskCheckInterval, DefaultDelayedTaskCheckInterval)
	if err := queue.ValidateQueue(cfg.Prefix); err != nil {
		return nil, fmt.Errorf("queueasynq: prefix: %w", err)
	}
	if cfg.DuplicateWindow < 0 || cfg.TaskCheckInterval < 0 || cfg.DelayedTaskCheckInterval < 0 {
		return nil, errors.New("queueasynq: negative duration in Config")
	}
	b := &Broker{
		cfg:     cfg,
		rdb:     cfg.Redis,
		log:     cfg.Logger,
		subs:    make(map[*subscription]struct{}),
		touched: make(map[string]struct{}),
	}
	if b.log == nil {
		b.log = slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if b.rdb == nil {
		opts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("queueasynq: redis url: %w", err)
		}
		b.rdb, b.ownRDB = redis.NewClient(opts), true
	}
	if err := b.rdb.Ping(ctx).Err(); err != nil {
		b.closeRedis()
		return nil, fmt.Errorf("queueasynq: ping redis: %w", err)
	}
	b.client = asynq.NewClientFromRedisClient(b.rdb)
	b.inspector = asynq.NewInspectorFromRedisClient(b.rdb)
	return b, nil
}

func (b *Broker) closeRedis() {
	if b.ownRDB {
		_ = b.rdb.Close()
	}
}

// asynqQueue is the asynq queue name for one logical queue and priority.
func (b *Broker) asynqQueue(q string, p queue.Priority) string { return queueName(b.cfg.Prefix, q, p) }

// asynqQueues lists q's asynq queues, highest priority first.
func (b *Broker) asynqQueues(q string) []string { return queueNames(b.cfg.Prefix, q) }

// queueName is the asynq queue of logical queue q at priority p under prefix.
func queueName(prefix, q string, p queue.Priority) string {
	name := prefix + ":" + q
	switch {
	case p > queue.PriorityNormal:
		return name + ":high"
	case p < queue.PriorityNormal:
		return name + ":low"
	default:
		return name
	}
}

// queueNames lists q's asynq queues under prefix, highest priority first.
func queueNames(prefix, q string) []string {
	return []string{
		queueName(prefix, q, queue.PriorityHigh),
		queueName(prefix, q, queue.PriorityNormal),
		queueName(prefix, q, queue.PriorityLow),
	}
}

// touch records q's asynq queues for DeleteOnClose; false once closed.
func (b *Broker) touch(q string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	if b.cfg.DeleteOnClose {
		for _, name := range b.asynqQueues(q) {
			b.touched[name] = struct{}{}
		}
	}
	return true
}

// Publish enqueues m with TaskID = m.ID and Retention = DuplicateWindow, so
// a repeat while the first is queued, running or retained is dropped
// (asynq's ErrTaskIDConflict is success). IDs are unique per asynq queue:
// the same ID at two priorities is two tasks.
func (b *Broker) Publish(ctx context.Context, m queue.Message) error {
	if err := queue.ValidateMessage(m); err != nil {
		return err
	}
	if !b.touch(m.Queue) {
		return queue.ErrClosed
	}
	task := asynq.NewTaskWithHeaders(taskType, m.Body, m.Headers)
	_, err := b.client.EnqueueContext(ctx, task,
		asynq.Queue(b.asynqQueue(m.Queue, m.Priority)),
		asynq.TaskID(m.ID),
		asynq.Retention(b.cfg.DuplicateWindow),
		asynq.MaxRetry(maxRetry),
		asynq.Timeout(taskTimeout),
	)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("queueasynq: publish %s: %w", m.Queue, err)
	}
	return nil
}

// Stats sums q's asynq queues: Pending counts pending, scheduled and retry
// (Nak'ed, waiting for their delay) tasks; InFlight counts active ones.
func (b *Broker) Stats(ctx context.Context, q string) (queue.Stats, error) {
	if err := queue.ValidateQueue(q); err != nil {
		return queue.Stats{}, err
	}
	if b.isClosed() {
		return queue.Stats{}, queue.ErrClosed
	}
	st := queue.Stats{Queue: q}
	// The inspector fails on queues Redis has never seen, so list them first.
	known, err := b.inspector.Queues()
	if err != nil {
		return st, fmt.Errorf("queueasynq: list queues: %w", err)
	}
	for _, name := range b.asynqQueues(q) {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if !slices.Contains(known, name) {
			continue
		}
		info, err := b.inspector.GetQueueInfo(name)
		if err != nil {
			return st, fmt.Errorf("queueasynq: queue info %s: %w", name, err)
		}
		st.Pending += int64(info.Pending + info.Scheduled + info.Retry)
		st.InFlight += int64(info.Active)
	}
	return st, nil
}

func (b *Broker) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// Close hard-stops every subscription (cancelling handler contexts and
// waiting for handlers), deletes the touched queues if DeleteOnClose, and
// closes the Redis client the broker created. Safe to call more than once.
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
	b.mu.Unlock()

	for _, s := range subs {
		s.hardStop()
		<-s.done
	}
	var errs []error
	if len(b.touched) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		errs = append(errs, b.deleteQueues(ctx))
		cancel()
	}
	b.closeRedis()
	return errors.Join(errs...)
}

// deleteQueues removes the touched asynq queues with everything under
// their keys.
func (b *Broker) deleteQueues(ctx context.Context) error {
	return deleteQueues(ctx, b.rdb, b.inspector, b.touched)
}

// deleteQueues removes the asynq queues names that exist with everything
// under their keys. asynq's DeleteQueue leaves retained (completed) tasks
// and counters behind, so the rest is found by its hash-tagged key prefix,
// which is unique to a broker's Prefix.
func deleteQueues(ctx context.Context, rdb redis.UniversalClient, insp *asynq.Inspector, names map[string]struct{}) error {
	known, err := insp.Queues()
	if err != nil {
		return fmt.Errorf("queueasynq: list queues: %w", err)
	}
	var errs []error
	for _, name := range known {
		if _, ok := names[name]; !ok {
			continue
		}
		if err := insp.DeleteQueue(name, true); err != nil {
			errs = append(errs, fmt.Errorf("queueasynq: delete queue %s: %w", name, err))
		}
	}
	for name := range names {
		iter := rdb.Scan(ctx, 0, "asynq:{"+name+"}:*", 1000).Iterator()
		for iter.Next(ctx) {
			if err := rdb.Del(ctx, iter.Val()).Err(); err != nil {
				errs = append(errs, fmt.Errorf("queueasynq: delete %s: %w", iter.Val(), err))
			}
		}
		if err := iter.Err(); err != nil {
			errs = append(errs, fmt.Errorf("queueasynq: scan %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

func (b *Broker) forget(s *subscription) {
	b.mu.Lock()
	delete(b.subs, s)
	b.mu.Unlock()
}
