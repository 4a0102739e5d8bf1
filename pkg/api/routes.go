package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ia-modules/ia-go/pkg/state"
)

// public marks routes that need no token.
const public = "public"

// route is one operation: the router and the OpenAPI document are both
// built from the route table.
type route struct {
	method, path string
	op           string // operation id, also the audit action
	summary      string
	roles        []string // allowed roles, or {public}
	req, resp    any      // request and success response body types (OpenAPI)
	status       int      // success status
	handle       func(w http.ResponseWriter, r *http.Request) *httpError
	query        []string // documented query parameters
	headers      []string // documented request headers
	sse          bool
}

var (
	allRoles   = []string{state.RoleProducer, state.RoleReviewer, state.RoleOperator, state.RoleAdmin}
	runReaders = []string{state.RoleProducer, state.RoleOperator, state.RoleAdmin}
	operators  = []string{state.RoleOperator, state.RoleAdmin}
	reviewers  = []string{state.RoleReviewer, state.RoleOperator, state.RoleAdmin}
	admins     = []string{state.RoleAdmin}
)

func (s *Server) routeTable() []route {
	raw := func(h http.Handler) func(http.ResponseWriter, *http.Request) *httpError {
		return func(w http.ResponseWriter, r *http.Request) *httpError { h.ServeHTTP(w, r); return nil }
	}
	return []route{
		{method: "GET", path: "/healthz", op: "health.live", summary: "Liveness", roles: []string{public}, resp: Health{}, status: 200, handle: s.healthz},
		{method: "GET", path: "/readyz", op: "health.ready", summary: "Readiness (store, broker, hot state)", roles: []string{public}, resp: Health{}, status: 200, handle: s.readyz},
		{method: "GET", path: "/metrics", op: "metrics", summary: "Prometheus metrics", roles: []string{public}, status: 200, handle: raw(s.metricsHandler())},
		{method: "GET", path: "/v1/openapi.json", op: "openapi", summary: "This document", roles: []string{public}, status: 200, handle: s.openapi},

		{method: "GET", path: "/v1/pipelines", op: "pipelines.list", summary: "List pipelines (latest versions)", roles: allRoles, resp: PipelineList{}, status: 200, handle: s.pipelinesList},
		{method: "POST", path: "/v1/pipelines/import", op: "pipelines.import", summary: "Import many pipelines (unchanged ones are not rewritten)", roles: operators, req: PipelineImportRequest{}, resp: PipelineImportResponse{}, status: 200, handle: s.pipelinesImport},
		{method: "POST", path: "/v1/pipelines/validate", op: "pipelines.validate", summary: "Validate a definition without saving it", roles: operators, req: ValidateRequest{}, resp: ValidateResponse{}, status: 200, handle: s.pipelinesValidate},
		{method: "GET", path: "/v1/pipelines/{slug}", op: "pipelines.get", summary: "Get a pipeline (latest, or ?version=N) and its versions", roles: allRoles, resp: PipelineDetail{}, status: 200, handle: s.pipelinesGet, query: []string{"version"}},
		{method: "PUT", path: "/v1/pipelines/{slug}", op: "pipelines.put", summary: "Create or update a pipeline (a new version when changed)", roles: operators, req: PipelinePutRequest{}, resp: PipelinePutResponse{}, status: 200, handle: s.pipelinesPut},
		{method: "GET", path: "/v1/pipeline-versions/{id}", op: "pipelines.version", summary: "Get one pipeline version by id", roles: allRoles, resp: Pipeline{}, status: 200, handle: s.pipelineVersionGet},

		{method: "POST", path: "/v1/runs", op: "runs.submit", summary: "Submit a run", roles: []string{state.RoleProducer, state.RoleAdmin}, req: SubmitRequest{}, resp: Run{}, status: 201, handle: s.runsSubmit, headers: []string{"Idempotency-Key"}},
		{method: "GET", path: "/v1/runs", op: "runs.list", summary: "List runs (producers see their own)", roles: runReaders, resp: RunList{}, status: 200, handle: s.runsList, query: []string{"status", "pipeline", "created_by", "since", "until", "cursor", "limit"}},
		{method: "GET", path: "/v1/runs/{id}", op: "runs.get", summary: "Get a run with every step's attempts", roles: runReaders, resp: RunDetail{}, status: 200, handle: s.runsGet},
		{method: "POST", path: "/v1/runs/{id}/cancel", op: "runs.cancel", summary: "Cancel a run", roles: operators, req: CancelRequest{}, resp: Run{}, status: 202, handle: s.runsCancel},
		{method: "POST", path: "/v1/runs/{id}/resume", op: "runs.resume", summary: "Resume a failed or cancelled run from its failed steps", roles: operators, resp: Run{}, status: 202, handle: s.runsResume},
		{method: "POST", path: "/v1/runs/{id}/steps/{step}/retry", op: "runs.retry_step", summary: "Retry a failed step (resumes the run)", roles: operators, resp: Run{}, status: 202, handle: s.runsRetryStep},
		{method: "GET", path: "/v1/runs/{id}/events", op: "runs.events", summary: "Server-Sent Events of one run (Last-Event-ID resumes)", roles: runReaders, status: 200, handle: s.runEvents, headers: []string{"Last-Event-ID"}, sse: true},
		{method: "GET", path: "/v1/events", op: "events", summary: "Server-Sent Events of all runs (Last-Event-ID resumes)", roles: operators, status: 200, handle: s.allEvents, headers: []string{"Last-Event-ID"}, sse: true},

		{method: "GET", path: "/v1/human-tasks", op: "human_tasks.list", summary: "List human tasks", roles: reviewers, resp: HumanTaskList{}, status: 200, handle: s.humanList, query: []string{"status", "assignee", "pipeline", "run_id", "limit"}},
		{method: "GET", path: "/v1/human-tasks/{id}", op: "human_tasks.get", summary: "Get a human task", roles: reviewers, resp: HumanTask{}, status: 200, handle: s.humanGet},
		{method: "POST", path: "/v1/human-tasks/{id}/decision", op: "human_tasks.decide", summary: "Decide a human task (assignees and admins)", roles: []string{state.RoleReviewer, state.RoleAdmin}, req: DecisionRequest{}, resp: HumanTask{}, status: 200, handle: s.humanDecide},

		{method: "POST", path: "/v1/tokens", op: "tokens.create", summary: "Create an API token (the secret is shown once)", roles: admins, req: TokenCreateRequest{}, resp: Token{}, status: 201, handle: s.tokensCreate},
		{method: "GET", path: "/v1/tokens", op: "tokens.list", summary: "List API tokens", roles: admins, resp: TokenList{}, status: 200, handle: s.tokensList, query: []string{"include_revoked"}},
		{method: "DELETE", path: "/v1/tokens/{id}", op: "tokens.revoke", summary: "Revoke an API token", roles: admins, resp: Token{}, status: 200, handle: s.tokensRevoke},
		{method: "GET", path: "/v1/audit", op: "audit.list", summary: "List audit entries, newest first", roles: admins, resp: AuditList{}, status: 200, handle: s.auditList, query: []string{"actor", "action", "target", "limit"}},
	}
}

// caller is the authenticated token of a request.
type caller struct {
	tok *state.Token
}

func (c *caller) name() string { return c.tok.Name }
func (c *caller) role() string { return c.tok.Role }
func (c *caller) is(roles ...string) bool {
	return slices.Contains(roles, c.tok.Role)
}

// auditNote lets a handler add the target and details of its audit entry.
type auditNote struct {
	target  string
	details any
}

type ctxKey int

const (
	callerKey ctxKey = iota
	auditKey
)

func callerOf(r *http.Request) *caller {
	c, _ := r.Context().Value(callerKey).(*caller)
	return c
}

func noteAudit(r *http.Request, target string, details any) {
	if n, ok := r.Context().Value(auditKey).(*auditNote); ok {
		n.target, n.details = target, details
	}
}

// statusWriter records the response status.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wrap adds authentication, authorization, rate limiting, the body cap,
// auditing of mutating requests and metrics around one route.
func (s *Server) wrap(rt route) http.Handler {
	mutating := rt.method != http.MethodGet
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		note := &auditNote{}
		var c *caller
		ctx := context.WithValue(r.Context(), auditKey, note)
		r = r.WithContext(ctx)
		defer func() {
			s.metrics.observe(rt.op, sw.status, time.Since(start))
			if mutating {
				s.audit(r, rt, c, sw.status, note)
			}
		}()
		if r.Body != nil {
			r.Body = http.MaxBytesReader(sw, r.Body, s.cfg.MaxBodyBytes)
		}
		if rt.roles[0] != public {
			var herr *httpError
			c, herr = s.authenticate(r)
			if herr == nil && !c.is(rt.roles...) {
				herr = errorf(http.StatusForbidden, CodeForbidden, "", "role %s may not %s", c.role(), rt.op)
			}
			if herr == nil {
				herr = s.rateLimit(r, sw, c)
			}
			if herr != nil {
				s.writeError(sw, r, herr)
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), callerKey, c))
		}
		if herr := rt.handle(sw, r); herr != nil {
			s.writeError(sw, r, herr)
		}
	})
}

func (s *Server) authenticate(r *http.Request) (*caller, *httpError) {
	h := r.Header.Get("Authorization")
	secret, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || secret == "" {
		return nil, errorf(http.StatusUnauthorized, CodeUnauthenticated, "Authorization", "missing bearer token (Authorization: Bearer ia_...)")
	}
	tok, err := s.cfg.Auth.TokenGet(r.Context(), HashToken(secret))
	if errors.Is(err, state.ErrNotFound) {
		return nil, errorf(http.StatusUnauthorized, CodeUnauthenticated, "Authorization", "unknown token")
	}
	if err != nil {
		return nil, internal(err)
	}
	if tok.RevokedAt != nil {
		return nil, errorf(http.StatusUnauthorized, CodeUnauthenticated, "Authorization", "token %q was revoked", tok.Name)
	}
	return &caller{tok: tok}, nil
}

func (s *Server) rateLimit(r *http.Request, w http.ResponseWriter, c *caller) *httpError {
	if s.cfg.RateLimit < 0 {
		return nil
	}
	ok, wait, err := s.cfg.Hot.RateLimitAllow(r.Context(), "api:rate:"+c.tok.ID, s.cfg.RateLimit, s.cfg.RateBurst)
	if err != nil {
		return internal(fmt.Errorf("rate limit: %w", err))
	}
	if ok {
		return nil
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(max(wait.Seconds(), 1)))))
	return errorf(http.StatusTooManyRequests, CodeRateLimited, "", "rate limit of %g requests/s exceeded; retry in %s", s.cfg.RateLimit, wait.Round(time.Millisecond))
}

func (s *Server) audit(r *http.Request, rt route, c *caller, status int, note *auditNote) {
	e := &state.AuditEntry{At: time.Now(), Action: rt.op, Method: r.Method, Path: r.URL.Path, Target: note.target, Status: status}
	if c != nil {
		e.Actor, e.Role = c.name(), c.role()
	}
	if e.Target == "" {
		e.Target = cmpOr(r.PathValue("id"), r.PathValue("slug"))
	}
	if note.details != nil {
		e.Details, _ = json.Marshal(note.details)
	}
	// The response is written; a lost audit entry can only be reported.
	if err := s.cfg.Auth.AuditInsert(context.WithoutCancel(r.Context()), e); err != nil {
		s.log.ErrorContext(r.Context(), "api: audit entry lost", slog.String("action", rt.op), slog.String("actor", e.Actor),
			slog.String("error", err.Error()))
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TokenPrefix starts every token secret.
const TokenPrefix = "ia_"

// NewToken returns a new random token secret and its hash (what the store
// keeps).
func NewToken() (secret, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("api: random token: %w", err)
	}
	secret = TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, HashToken(secret), nil
}

// HashToken returns the hex SHA-256 of a token secret.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// CreateToken makes a token with a new secret in a and returns it with the
// secret set (shown once). It is how `ia tokens create` bootstraps the first
// admin without the API.
func CreateToken(ctx context.Context, a state.Auth, name, role, createdBy string) (*Token, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	if !slices.Contains(state.Roles, role) {
		return nil, fmt.Errorf("api: unknown role %q (want one of %s)", role, strings.Join(state.Roles, ", "))
	}
	secret, hash, err := NewToken()
	if err != nil {
		return nil, err
	}
	t, err := a.TokenCreate(ctx, &state.TokenCreateParams{Name: name, Role: role, Hash: hash, CreatedBy: createdBy})
	if err != nil {
		return nil, err
	}
	out := tokenOf(t)
	out.Secret = secret
	return &out, nil
}

func validName(name string) error {
	if name == "" || len(name) > 128 || strings.ContainsAny(name, " \t\r\n\x1f") || strings.HasPrefix(name, "role:") || strings.HasPrefix(name, "system:") {
		return fmt.Errorf("api: token name %q must be 1-128 characters without spaces, not starting with role: or system:", name)
	}
	return nil
}

// Operations lists the operation ids of every route, in routing order.
func Operations() []string {
	s := &Server{}
	var out []string
	for _, rt := range s.routeTable() {
		out = append(out, rt.op)
	}
	return out
}
