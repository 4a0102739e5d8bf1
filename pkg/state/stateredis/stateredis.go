package stateredis

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ia-modules/ia-go/pkg/state"
)

// Defaults for Config fields left at their zero value.
const (
	PrefixDefault          = "ia:"
	EventsMaxLenDefault    = 100_000
	RunEventsMaxLenDefault = 10_000
	RunEventsTTLDefault    = 24 * time.Hour
	BlockDefault           = 5 * time.Second
)

// Config configures New.
type Config struct {
	// URL is the Redis URL (redis:// or rediss://). Required.
	URL string
	// Prefix starts every key, inside a hash tag. Default PrefixDefault.
	Prefix string
	// EventsMaxLen approximately caps the global event stream. Default
	// EventsMaxLenDefault.
	EventsMaxLen int64
	// RunEventsMaxLen approximately caps each run's event stream. Default
	// RunEventsMaxLenDefault.
	RunEventsMaxLen int64
	// RunEventsTTL expires a run's stream after that long without events.
	// Default RunEventsTTLDefault.
	RunEventsTTL time.Duration
	// Block is how long one XREAD of a subscription waits before it loops.
	// Default BlockDefault.
	Block time.Duration
	// Logger defaults to Warn level on stdout.
	Logger *slog.Logger
}

// Hot is a [state.Hot] backed by Redis.
type Hot struct {
	rdb    *redis.Client
	prefix string
	cfg    Config
	logger *slog.Logger

	mu     sync.Mutex
	subs   map[int]context.CancelFunc
	nextID int
	wg     sync.WaitGroup
	closed bool
}

var _ state.Hot = (*Hot)(nil)

// New parses the URL and pings the server.
func New(ctx context.Context, cfg Config) (*Hot, error) {
	if cfg.URL == "" {
		return nil, errors.New("stateredis: Config.URL is required")
	}
	opts, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("stateredis: parse URL: %w", err)
	}
	cfg.Prefix = cmp.Or(cfg.Prefix, PrefixDefault)
	cfg.EventsMaxLen = cmp.Or(cfg.EventsMaxLen, EventsMaxLenDefault)
	cfg.RunEventsMaxLen = cmp.Or(cfg.RunEventsMaxLen, RunEventsMaxLenDefault)
	cfg.RunEventsTTL = cmp.Or(cfg.RunEventsTTL, RunEventsTTLDefault)
	cfg.Block = cmp.Or(cfg.Block, BlockDefault)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	rdb := redis.NewClient(opts)
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("stateredis: ping: %w", err)
	}
	return &Hot{rdb: rdb, prefix: keyPrefix(cfg.Prefix), cfg: cfg, logger: cfg.Logger, subs: map[int]context.CancelFunc{}}, nil
}

// Close ends every subscription and closes the client. Safe to call twice.
func (h *Hot) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	for _, cancel := range h.subs {
		cancel()
	}
	h.mu.Unlock()
	h.wg.Wait()
	return h.rdb.Close()
}

func (h *Hot) key(parts ...string) string { return h.prefix + strings.Join(parts, ":") }

func (h *Hot) interpret(err error) error {
	if errors.Is(err, redis.ErrClosed) {
		return fmt.Errorf("%w: %w", state.ErrClosed, err)
	}
	return err
}

var idemScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1, ARGV[1]} end
return {0, redis.call('GET', KEYS[1])}`)

// IdempotencyClaim implements [state.Hot].
func (h *Hot) IdempotencyClaim(ctx context.Context, key, value string, ttl time.Duration) (string, bool, error) {
	res, err := idemScript.Run(ctx, h.rdb, []string{h.key("idem", key)}, value, max(ttl.Milliseconds(), 1)).Slice()
	if err != nil {
		return "", false, fmt.Errorf("stateredis: IdempotencyClaim: %w", h.interpret(err))
	}
	existing, _ := res[1].(string)
	return existing, res[0].(int64) == 1, nil
}

// The bucket refills continuously; times come from the server clock so
// processes with skewed clocks share one bucket fairly.
var rateScript = redis.NewScript(`
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(v[1]) or burst
local ts = tonumber(v[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(math.ceil(wait * 1000000))}`)

// RateLimitAllow implements [state.Hot].
func (h *Hot) RateLimitAllow(ctx context.Context, key string, perSecond float64, burst int) (bool, time.Duration, error) {
	if perSecond <= 0 {
		return false, 0, fmt.Errorf("stateredis: RateLimitAllow: perSecond must be positive, got %v", perSecond)
	}
	res, err := rateScript.Run(ctx, h.rdb, []string{h.key("rate", key)}, perSecond, max(burst, 1)).Slice()
	if err != nil {
		return false, 0, fmt.Errorf("stateredis: RateLimitAllow: %w", h.interpret(err))
	}
	us, err := strconv.ParseInt(res[1].(string), 10, 64)
	if err != nil {
		return false, 0, fmt.Errorf("stateredis: RateLimitAllow: %w", err)
	}
	return res[0].(int64) == 1, time.Duration(us) * time.Microsecond, nil
}

var lockScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local tok = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], tok, 'PX', ARGV[1])
return tok`)

var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// LockAcquire implements [state.Hot]. The fencing counter outlives the lock,
// so tokens keep increasing across holders.
func (h *Hot) LockAcquire(ctx context.Context, key string, ttl time.Duration) (int64, bool, error) {
	tok, err := lockScript.Run(ctx, h.rdb, []string{h.key("lock", key), h.key("fence", key)}, max(ttl.Milliseconds(), 1)).Int64()
	if err != nil {
		return 0, false, fmt.Errorf("stateredis: LockAcquire: %w", h.interpret(err))
	}
	return tok, tok > 0, nil
}

// LockRelease implements [state.Hot].
func (h *Hot) LockRelease(ctx context.Context, key string, token int64) error {
	n, err := unlockScript.Run(ctx, h.rdb, []string{h.key("lock", key)}, strconv.FormatInt(token, 10)).Int64()
	if err != nil {
		return fmt.Errorf("stateredis: LockRelease: %w", h.interpret(err))
	}
	if n == 0 {
		return fmt.Errorf("stateredis: LockRelease %s: %w", key, state.ErrLockNotHeld)
	}
	return nil
}

// eventRec is the stored form of an Event; Seq is the stream ID.
type eventRec struct {
	RunID  string          `json:"run_id,omitempty"`
	StepID string          `json:"step_id,omitempty"`
	Type   string          `json:"type"`
	Data   json.RawMessage `json:"data,omitempty"`
	At     time.Time       `json:"at"`
}

func (h *Hot) streamKey(runID string) string {
	if runID == "" {
		return h.key("events")
	}
	return h.key("events", "run", runID)
}

var publishScript = redis.NewScript(`
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '0-*', 'e', ARGV[3])
if #KEYS > 1 then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '0-*', 'e', ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
return 1`)

// EventPublish implements [state.Hot].
func (h *Hot) EventPublish(ctx context.Context, ev state.Event) error {
	keys, args, err := h.publishArgs(ev)
	if err != nil {
		return fmt.Errorf("stateredis: EventPublish: %w", err)
	}
	if err := publishScript.Run(ctx, h.rdb, keys, args...).Err(); err != nil {
		return fmt.Errorf("stateredis: EventPublish: %w", h.interpret(err))
	}
	return nil
}

// EventPublishMany publishes evs in order, as EventPublish does each, in one
// round trip: a scheduler publishes what its decisions queued meanwhile
// together.
func (h *Hot) EventPublishMany(ctx context.Context, evs []state.Event) error {
	if len(evs) == 0 {
		return nil
	}
	type call struct {
		keys []string
		args []any
	}
	calls := make([]call, len(evs))
	for i, ev := range evs {
		keys, args, err := h.publishArgs(ev)
		if err != nil {
			return fmt.Errorf("stateredis: EventPublishMany: %w", err)
		}
		calls[i] = call{keys, args}
	}
	cmds := make([]*redis.Cmd, len(evs))
	_, err := h.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range calls {
			cmds[i] = publishScript.EvalSha(ctx, p, c.keys, c.args...)
		}
		return nil
	})
	if err == nil {
		return nil
	}
	// The script is not in the server's cache (a restart or SCRIPT FLUSH):
	// the events it refused are published again, in order, by Run, which
	// loads it.
	for i, cmd := range cmds {
		switch cerr := cmd.Err(); {
		case cerr == nil:
		case redis.HasErrorPrefix(cerr, "NOSCRIPT"):
			if err := publishScript.Run(ctx, h.rdb, calls[i].keys, calls[i].args...).Err(); err != nil {
				return fmt.Errorf("stateredis: EventPublishMany: %w", h.interpret(err))
			}
		default:
			return fmt.Errorf("stateredis: EventPublishMany: %w", h.interpret(cerr))
		}
	}
	return nil
}

// publishArgs returns publishScript's keys and arguments for ev.
func (h *Hot) publishArgs(ev state.Event) ([]string, []any, error) {
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	b, err := json.Marshal(eventRec{RunID: ev.RunID, StepID: ev.StepID, Type: ev.Type, Data: ev.Data, At: ev.At.UTC()})
	if err != nil {
		return nil, nil, err
	}
	keys := []string{h.streamKey("")}
	if ev.RunID != "" {
		keys = append(keys, h.streamKey(ev.RunID))
	}
	return keys, []any{h.cfg.EventsMaxLen, h.cfg.RunEventsMaxLen, string(b), h.cfg.RunEventsTTL.Milliseconds()}, nil
}

func decodeEvent(m redis.XMessage) (state.Event, error) {
	_, seqStr, _ := strings.Cut(m.ID, "-")
	seq, err := strconv.ParseInt(seqStr, 10, 64)
	if err != nil {
		return state.Event{}, fmt.Errorf("bad stream id %q", m.ID)
	}
	raw, _ := m.Values["e"].(string)
	var rec eventRec
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		return state.Event{}, fmt.Errorf("event %s: %w", m.ID, err)
	}
	return state.Event{Seq: seq, RunID: rec.RunID, StepID: rec.StepID, Type: rec.Type, Data: rec.Data, At: rec.At}, nil
}

// EventsSince implements [state.Hot].
func (h *Hot) EventsSince(ctx context.Context, runID string, afterSeq int64, limit int) ([]state.Event, error) {
	if limit <= 0 {
		limit = 1000
	}
	msgs, err := h.rdb.XRangeN(ctx, h.streamKey(runID), "(0-"+strconv.FormatInt(max(afterSeq, 0), 10), "+", int64(limit)).Result()
	if err != nil {
		return nil, fmt.Errorf("stateredis: EventsSince: %w", h.interpret(err))
	}
	out := make([]state.Event, 0, len(msgs))
	for _, m := range msgs {
		ev, err := decodeEvent(m)
		if err != nil {
			return nil, fmt.Errorf("stateredis: EventsSince: %w", err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// EventSubscribe implements [state.Hot]. Each subscription holds one
// connection in a blocking XREAD.
func (h *Hot) EventSubscribe(ctx context.Context, runID string) (<-chan state.Event, func(), error) {
	key := h.streamKey(runID)
	last := "0-0"
	msgs, err := h.rdb.XRevRangeN(ctx, key, "+", "-", 1).Result()
	if err != nil {
		return nil, nil, fmt.Errorf("stateredis: EventSubscribe: %w", h.interpret(err))
	}
	if len(msgs) == 1 {
		last = msgs[0].ID
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, nil, state.ErrClosed
	}
	subCtx, cancel := context.WithCancel(ctx)
	id := h.nextID
	h.nextID++
	h.subs[id] = cancel
	h.wg.Add(1)
	h.mu.Unlock()

	ch := make(chan state.Event, 64)
	done := make(chan struct{})
	go func() {
		defer h.wg.Done()
		defer close(done)
		defer close(ch)
		h.readLoop(subCtx, key, last, ch)
	}()
	stop := func() {
		cancel()
		<-done
		h.mu.Lock()
		delete(h.subs, id)
		h.mu.Unlock()
	}
	return ch, stop, nil
}

func (h *Hot) readLoop(ctx context.Context, key, last string, ch chan<- state.Event) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		res, err := h.rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{key, last}, Count: 100, Block: h.cfg.Block}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// Retrying is the fallback: events stay in the stream meanwhile.
			h.logger.WarnContext(ctx, "stateredis: event subscription read failed", slog.String("stream", key), slog.Any("error", err))
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		for _, s := range res {
			for _, m := range s.Messages {
				last = m.ID
				ev, err := decodeEvent(m)
				if err != nil {
					h.logger.WarnContext(ctx, "stateredis: skipping undecodable event", slog.String("stream", key), slog.Any("error", err))
					continue
				}
				select {
				case ch <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}
}
