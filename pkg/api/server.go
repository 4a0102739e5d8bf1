package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ia-modules/ia-go/pkg/queue"
	"github.com/ia-modules/ia-go/pkg/scheduler"
	"github.com/ia-modules/ia-go/pkg/state"
)

// Defaults for Config fields left at their zero value.
const (
	AddrDefault         = "127.0.0.1:8080"
	MaxBodyBytesDefault = 1 << 20
	RateLimitDefault    = 50.0
	RateBurstDefault    = 100
	HeartbeatDefault    = 15 * time.Second
)

// Config configures New.
type Config struct {
	// Store is the durable state. Required.
	Store state.Store
	// Auth keeps tokens and the audit log. Default: Store, when it
	// implements state.Auth (statepg and statesqlite do); required otherwise.
	Auth state.Auth
	// Hot serves live events (SSE) and rate limits. Required.
	Hot state.Hot
	// Scheduler submits, cancels, resumes runs, imports pipelines and
	// decides human tasks. Required. The API needs no scheduler loop of its
	// own in this process (Start is optional): another process may run it.
	Scheduler *scheduler.Scheduler
	// Broker, when set, is checked by /readyz.
	Broker queue.Broker
	// Addr is where Start listens. Default AddrDefault ("127.0.0.1:8080");
	// ":0" picks a free port (see Server.URL).
	Addr string
	// MaxBodyBytes caps request bodies (413 above). Default
	// MaxBodyBytesDefault (1 MiB).
	MaxBodyBytes int64
	// AllowedOrigins enables CORS for these origins ("*" for any). Default
	// none: CORS is off.
	AllowedOrigins []string
	// RateLimit is each token's sustained requests per second. Default
	// RateLimitDefault (50); negative disables rate limiting.
	RateLimit float64
	// RateBurst is each token's burst. Default RateBurstDefault (100).
	RateBurst int
	// Heartbeat is the SSE keep-alive comment interval. Default
	// HeartbeatDefault (15s).
	Heartbeat time.Duration
	// Gatherer is served on /metrics. Default prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer
	// Registerer receives the API's own metrics; nil: not registered.
	Registerer prometheus.Registerer
	// Logger defaults to Warn level on stdout.
	Logger *slog.Logger
}

// Server is the HTTP API. Handler serves it on any listener; Start and
// Stop run it on Config.Addr.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	routes  []route
	handler http.Handler
	metrics *apiMetrics

	openapiOnce sync.Once
	openapiDoc  []byte

	done     chan struct{} // closed by Stop: ends SSE streams
	doneOnce sync.Once

	mu   sync.Mutex
	srv  *http.Server
	addr string
	errc chan error
}

// New validates cfg and builds the server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Hot == nil || cfg.Scheduler == nil {
		return nil, errors.New("api: Config.Store, Config.Hot and Config.Scheduler are required")
	}
	if cfg.Auth == nil {
		a, ok := cfg.Store.(state.Auth)
		if !ok {
			return nil, errors.New("api: Config.Auth is required (the store does not implement state.Auth)")
		}
		cfg.Auth = a
	}
	cfg.Addr = cmp.Or(cfg.Addr, AddrDefault)
	cfg.MaxBodyBytes = cmp.Or(cfg.MaxBodyBytes, MaxBodyBytesDefault)
	cfg.RateLimit = cmp.Or(cfg.RateLimit, RateLimitDefault)
	cfg.RateBurst = cmp.Or(cfg.RateBurst, RateBurstDefault)
	cfg.Heartbeat = cmp.Or(cfg.Heartbeat, HeartbeatDefault)
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.DefaultGatherer
	}
	if cfg.MaxBodyBytes < 0 || cfg.Heartbeat < 0 || cfg.RateBurst < 0 {
		return nil, errors.New("api: MaxBodyBytes, Heartbeat and RateBurst must not be negative")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s := &Server{cfg: cfg, log: log.With("component", "api"), mux: http.NewServeMux(), done: make(chan struct{}),
		metrics: newAPIMetrics(cfg.Registerer)}
	s.routes = s.routeTable()
	for _, rt := range s.routes {
		s.mux.Handle(rt.method+" "+rt.path, s.wrap(rt))
	}
	s.handler = s.cors(http.HandlerFunc(s.serve))
	return s, nil
}

// Handler returns the API as an http.Handler (for httptest or an outer mux).
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on Config.Addr and serves in the background until Stop, or
// until ctx is cancelled (a hard stop).
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return nil
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("api: listen %s: %w", s.cfg.Addr, err)
	}
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	s.srv, s.addr, s.errc = srv, ln.Addr().String(), make(chan error, 1)
	go func() { s.errc <- srv.Serve(ln) }()
	go func() {
		select {
		case <-ctx.Done():
			s.closeDone()
			_ = srv.Close()
		case <-s.done:
		}
	}()
	s.log.InfoContext(ctx, "api: listening", slog.String("addr", s.addr))
	return nil
}

// URL is the base URL Start listens on ("" before Start).
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.addr == "" {
		return ""
	}
	return "http://" + s.addr
}

// Stop ends live event streams and shuts the server down gracefully within
// ctx; when ctx expires first, remaining connections are closed. It is safe
// to call more than once and without Start.
func (s *Server) Stop(ctx context.Context) error {
	s.closeDone()
	s.mu.Lock()
	srv, errc := s.srv, s.errc
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, srv.Close())
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

func (s *Server) closeDone() { s.doneOnce.Do(func() { close(s.done) }) }

// serve dispatches to the mux, answering unknown routes with JSON errors.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := s.mux.Handler(probe); p != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header()["Allow"] = allow
		s.writeError(w, r, errorf(http.StatusMethodNotAllowed, CodeMethodNotAllow, "", "method %s is not allowed on %s", r.Method, r.URL.Path))
		return
	}
	s.writeError(w, r, errorf(http.StatusNotFound, CodeNotFound, "", "no route %s %s", r.Method, r.URL.Path))
}

func (s *Server) cors(next http.Handler) http.Handler {
	if len(s.cfg.AllowedOrigins) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && (slices.Contains(s.cfg.AllowedOrigins, "*") || slices.Contains(s.cfg.AllowedOrigins, origin)) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Idempotency-Key, Last-Event-ID")
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
			h.Set("Access-Control-Expose-Headers", "Retry-After")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, e *httpError) {
	if e.status >= 500 {
		s.log.ErrorContext(r.Context(), "api: request failed", slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.String("error", e.detail.Message))
	}
	writeJSON(w, e.status, ErrorBody{Error: e.detail})
}

// internal turns an unexpected error into a 500 (or 503 for a closed store).
func internal(err error) *httpError {
	if errors.Is(err, state.ErrClosed) || errors.Is(err, context.Canceled) {
		return errorf(http.StatusServiceUnavailable, CodeUnavailable, "", "service unavailable: %v", err)
	}
	return errorf(http.StatusInternalServerError, CodeInternal, "", "%v", err)
}

// apiMetrics are the API's own metrics.
type apiMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newAPIMetrics(reg prometheus.Registerer) *apiMetrics {
	m := &apiMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ia_api_requests_total",
			Help: "API requests by operation and status code."}, []string{"operation", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ia_api_request_duration_seconds",
			Help: "API request latency by operation.", Buckets: prometheus.DefBuckets}, []string{"operation"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.latency)
	}
	return m
}

func (m *apiMetrics) observe(op string, status int, d time.Duration) {
	m.requests.WithLabelValues(op, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(op).Observe(d.Seconds())
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{})
}
