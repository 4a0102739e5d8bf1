package bench

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ia-modules/ia-go/pkg/queue"
	"github.com/ia-modules/ia-go/pkg/queue/queueasynq"
	"github.com/ia-modules/ia-go/pkg/queue/queuenats"
)

// RawChainSteps is the length of a raw broker chain.
const RawChainSteps = 10

const rawQueue = "raw"

// Raw is a bare task chain on a broker: each handler publishes the next
// task of its chain, then acks, as the worker publishes a completion and
// acks. No store, no scheduler. On a target with Postgres, a durable chain
// also commits one row per step before publishing the next task: the
// "JetStream round trip plus one Postgres commit" of
// ../shared/reference/perf-floors.md.
type Raw struct {
	Target Target
	broker queue.Broker
	sub    queue.Subscription
	prefix string
	close  []func()
	tr     *tracker
	// pool is the durable chain's Postgres (nil: none), writing to the
	// table hops in the schema named prefix.
	pool *pgxpool.Pool

	steps atomic.Int64
	chain atomic.Int64

	mu     sync.Mutex
	record bool
	hops   []time.Duration
	firsts []time.Duration
	fanned map[string]int // fan-out id -> tasks not yet handled
}

type rawTask struct {
	Chain string `json:"chain"`
	Step  int    `json:"step"`
	// Prev is when the previous step ended (Unix ns), or when the chain was
	// published for the first step.
	Prev int64 `json:"prev"`
	// Fan marks one of the parallel tasks of a raw fan-out, all published
	// together at Prev; such a task publishes nothing.
	Fan bool `json:"fan,omitempty"`
	// Durable: the step commits a row to Postgres before it publishes the
	// next task.
	Durable bool `json:"durable,omitempty"`
}

// OpenRaw opens t's broker on its own namespace (embedded targets start
// their own in-process server) and subscribes the chain handler.
func OpenRaw(ctx context.Context, t Target) (r *Raw, err error) {
	r = &Raw{Target: t, prefix: uniquePrefix() + "_raw", tr: newTracker(), fanned: map[string]int{}}
	defer func() {
		if err != nil {
			_ = r.Close()
		}
	}()
	switch u := t.QueueURL; {
	case u == "":
		dir, err := os.MkdirTemp("", "ia-bench-raw-*")
		if err != nil {
			return nil, err
		}
		r.close = append(r.close, func() { _ = os.RemoveAll(dir) })
		srv, err := queuenats.StartEmbedded(ctx, queuenats.EmbeddedConfig{StoreDir: dir})
		if err != nil {
			return nil, err
		}
		r.close = append(r.close, srv.Shutdown)
		// The same in-process connection the embedded engine uses.
		nc, err := srv.Connect("ia-bench-raw")
		if err != nil {
			return nil, err
		}
		r.close = append(r.close, nc.Close)
		b, err := queuenats.New(ctx, queuenats.Config{Conn: nc, Prefix: r.prefix, DeleteOnClose: true})
		if err != nil {
			return nil, err
		}
		r.broker = b
	case strings.HasPrefix(u, "nats://"), strings.HasPrefix(u, "tls://"):
		b, err := queuenats.New(ctx, queuenats.Config{URL: u, Prefix: r.prefix, DeleteOnClose: true})
		if err != nil {
			return nil, err
		}
		r.broker = b
	case strings.HasPrefix(u, "redis://"), strings.HasPrefix(u, "rediss://"):
		b, err := queueasynq.New(ctx, queueasynq.Config{RedisURL: u, Prefix: r.prefix, DeleteOnClose: true})
		if err != nil {
			return nil, err
		}
		r.broker = b
	default:
		return nil, fmt.Errorf("raw: unsupported queue URL %q", u)
	}
	if t.DatabaseURL != "" && t.QueueURL != "" {
		if err := r.openDurable(ctx, t.DatabaseURL); err != nil {
			return nil, err
		}
	}
	conc := cmp.Or(t.WorkerConcurrency, DefaultWorkerConcurrency)
	r.sub, err = r.broker.Subscribe(ctx, rawQueue, queue.SubscribeConfig{Concurrency: conc}, queue.HandlerFunc(r.handle))
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Close stops the consumer, deletes the namespace and stops an embedded
// server.
func (r *Raw) Close() error {
	var err error
	if r.sub != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = r.sub.Stop(ctx)
		cancel()
	}
	if r.broker != nil {
		err = cmp.Or(err, r.broker.Close())
	}
	for i := len(r.close) - 1; i >= 0; i-- {
		r.close[i]()
	}
	return err
}

func (r *Raw) handle(ctx context.Context, d queue.Delivery) {
	start := time.Now()
	var t rawTask
	if err := json.Unmarshal(d.Message().Body, &t); err != nil {
		_ = d.Term(ctx)
		return
	}
	if t.Fan {
		r.mu.Lock()
		if r.record {
			r.hops = append(r.hops, start.Sub(time.Unix(0, t.Prev)))
		}
		r.fanned[t.Chain]--
		done := r.fanned[t.Chain] == 0
		if done {
			delete(r.fanned, t.Chain)
		}
		r.mu.Unlock()
		if done {
			r.tr.finished(t.Chain)
		}
		_ = d.Ack(context.WithoutCancel(ctx))
		return
	}
	r.steps.Add(1)
	r.mu.Lock()
	if r.record {
		if t.Step == 0 {
			r.firsts = append(r.firsts, start.Sub(time.Unix(0, t.Prev)))
		} else {
			r.hops = append(r.hops, start.Sub(time.Unix(0, t.Prev)))
		}
	}
	r.mu.Unlock()
	ctx = context.WithoutCancel(ctx)
	// The step ends here; a durable one's commit is part of its hop, as
	// the engine's commit is part of its.
	ended := time.Now()
	if t.Durable {
		if _, err := r.pool.Exec(ctx, `INSERT INTO `+r.prefix+`.hops (chain, step) VALUES ($1, $2)`, t.Chain, t.Step); err != nil {
			_ = d.Nak(ctx, 0)
			return
		}
	}
	if t.Step+1 < RawChainSteps {
		next := rawTask{Chain: t.Chain, Step: t.Step + 1, Prev: ended.UnixNano(), Durable: t.Durable}
		if err := r.publish(ctx, next); err != nil {
			_ = d.Nak(ctx, 0)
			return
		}
	} else {
		r.tr.runs.Add(1)
		r.tr.finished(t.Chain)
	}
	_ = d.Ack(ctx)
}

func (r *Raw) publish(ctx context.Context, t rawTask) error {
	body, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return r.broker.Publish(ctx, queue.Message{ID: fmt.Sprintf("raw.%s.%d", t.Chain, t.Step), Queue: rawQueue, Body: body})
}

// ChainOnce publishes one chain and waits for its last step.
func (r *Raw) ChainOnce(ctx context.Context) error { return r.chainOnce(ctx, false) }

func (r *Raw) chainOnce(ctx context.Context, durable bool) error {
	id := fmt.Sprintf("c%d", r.chain.Add(1))
	if err := r.publish(ctx, rawTask{Chain: id, Prev: time.Now().UnixNano(), Durable: durable}); err != nil {
		return err
	}
	return r.tr.wait(ctx, id, runTimeout)
}

// openDurable creates the durable chain's schema and table.
func (r *Raw) openDurable(ctx context.Context, url string) error {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return fmt.Errorf("raw: %w", err)
	}
	r.pool = pool
	r.close = append(r.close, func() {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = pool.Exec(c, `DROP SCHEMA IF EXISTS `+r.prefix+` CASCADE`)
		pool.Close()
	})
	if _, err := pool.Exec(ctx, `CREATE SCHEMA `+r.prefix+`; CREATE TABLE `+r.prefix+`.hops (id bigserial PRIMARY KEY, chain text NOT NULL, step int NOT NULL)`); err != nil {
		return fmt.Errorf("raw: creating the durable chain's table: %w", err)
	}
	return nil
}

// DurableRows counts the rows the durable chain has committed.
func (r *Raw) DurableRows(ctx context.Context) (n int64, err error) {
	err = r.pool.QueryRow(ctx, `SELECT count(*) FROM `+r.prefix+`.hops`).Scan(&n)
	return n, err
}

// Durable reports whether the raw broker has a durable chain.
func (r *Raw) Durable() bool { return r.pool != nil }

// DurableSerial is Serial for the durable chain: each step commits a row
// to Postgres before it publishes the next task.
func (r *Raw) DurableSerial(ctx context.Context, n int) (hops []time.Duration, err error) {
	hops, _, err = r.serial(ctx, n, func(ctx context.Context) error { return r.chainOnce(ctx, true) })
	return hops, err
}

// FanOnce publishes width parallel tasks together, as the engine publishes
// a fan-out's, and waits until all have been handled. A task's hop is from
// just before the publish to its start.
func (r *Raw) FanOnce(ctx context.Context, width int) error {
	id := fmt.Sprintf("f%d", r.chain.Add(1))
	r.mu.Lock()
	r.fanned[id] = width
	r.mu.Unlock()
	prev := time.Now().UnixNano()
	ms := make([]queue.Message, width)
	for i := range ms {
		body, err := json.Marshal(rawTask{Chain: id, Step: i, Prev: prev, Fan: true})
		if err != nil {
			return err
		}
		ms[i] = queue.Message{ID: fmt.Sprintf("raw.%s.%d", id, i), Queue: rawQueue, Body: body}
	}
	for _, err := range queue.PublishAll(ctx, r.broker, ms) {
		if err != nil {
			return err
		}
	}
	return r.tr.wait(ctx, id, runTimeout)
}

// FanSerial makes n raw fan-outs of width one at a time, pausing between
// them, and returns their tasks' hops.
func (r *Raw) FanSerial(ctx context.Context, n, width int) ([]time.Duration, error) {
	hops, _, err := r.serial(ctx, n, func(ctx context.Context) error { return r.FanOnce(ctx, width) })
	return hops, err
}

// Serial makes n chains one at a time, pausing between them so each starts
// on an idle system, and returns their hops and first-step delays.
func (r *Raw) Serial(ctx context.Context, n int) (hops, firsts []time.Duration, err error) {
	return r.serial(ctx, n, r.ChainOnce)
}

// serial calls once n times, pausing before each, and returns the hops and
// first-step delays recorded meanwhile.
func (r *Raw) serial(ctx context.Context, n int, once func(context.Context) error) (hops, firsts []time.Duration, err error) {
	r.mu.Lock()
	r.record, r.hops, r.firsts = true, nil, nil
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.record = false
		hops, firsts = r.hops, r.firsts
		r.mu.Unlock()
	}()
	for range n {
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(idlePause):
		}
		if err := once(ctx); err != nil {
			return nil, nil, err
		}
	}
	return nil, nil, nil
}

// Saturate keeps conc chains in flight for d (closed loop) and counts the
// steps and chains that ended inside the window.
func (r *Raw) Saturate(ctx context.Context, conc int, d time.Duration, tick func(Load)) (Load, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	steps0, runs0 := r.steps.Load(), r.tr.runs.Load()
	start := time.Now()
	deadline := start.Add(d)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for range conc {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if err := r.ChainOnce(ctx); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		})
	}
	snapshot := func() Load {
		return Load{Runs: r.tr.runs.Load() - runs0, Steps: r.steps.Load() - steps0, Elapsed: time.Since(start)}
	}
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	window := time.NewTimer(d)
	defer window.Stop()
	var res Load
	for measured := false; !measured; {
		select {
		case <-ticker.C:
			if tick != nil {
				tick(snapshot())
			}
		case <-window.C:
			res, measured = snapshot(), true
		case <-ctx.Done():
			res, measured = snapshot(), true
		}
	}
	wg.Wait()
	return res, firstErr
}
