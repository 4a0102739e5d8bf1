package state

import (
	"context"
	"encoding/json"
	"time"
)

// API token roles, from least to most privileged. The API decides what each
// role may do; the store only keeps the name.
const (
	// RoleProducer submits runs and reads its own runs.
	RoleProducer = "producer"
	// RoleReviewer lists and decides human tasks.
	RoleReviewer = "reviewer"
	// RoleOperator cancels and resumes runs, manages pipelines and reads all
	// runs.
	RoleOperator = "operator"
	// RoleAdmin may do everything, including managing tokens.
	RoleAdmin = "admin"
)

// Roles lists every role.
var Roles = []string{RoleProducer, RoleReviewer, RoleOperator, RoleAdmin}

// Token is an API token. Only the SHA-256 hash of the secret is stored; the
// secret itself is shown once, when the token is created.
type Token struct {
	ID        string
	Name      string // the caller's identity (runs' CreatedBy, audit Actor)
	Role      string
	Hash      string // hex SHA-256 of the secret
	CreatedBy string
	CreatedAt time.Time
	RevokedAt *time.Time // nil while the token is valid
}

// AuditEntry records one mutating request: who did what, when, to what, and
// how it ended.
type AuditEntry struct {
	ID     int64 // assigned by the store
	At     time.Time
	Actor  string // token name; "" when unauthenticated
	Role   string
	Action string // operation, e.g. "runs.submit"
	Method string
	Path   string
	Target string // the id acted on, when there is one
	Status int    // HTTP status of the response
	// Details holds what was decided or submitted (JSON object), when useful.
	Details json.RawMessage
}

// TokenCreateParams creates a token. ID is generated when empty.
type TokenCreateParams struct {
	ID        string
	Name      string
	Role      string
	Hash      string
	CreatedBy string
}

// TokenListParams filters tokens, oldest first.
type TokenListParams struct {
	// IncludeRevoked lists revoked tokens too.
	IncludeRevoked bool
}

// AuditListParams filters audit entries, newest first.
type AuditListParams struct {
	Actor  string
	Action string
	Target string
	Limit  int // default 100
}

// Auth stores API tokens and the audit log. The SQL stores implement it next
// to [Store]; every method is safe for concurrent use.
type Auth interface {
	// TokenCreate stores a token; a Hash that exists already returns
	// ErrConflict.
	TokenCreate(ctx context.Context, p *TokenCreateParams) (*Token, error)
	// TokenGet finds a token by its hash, revoked or not; ErrNotFound when
	// there is none.
	TokenGet(ctx context.Context, hash string) (*Token, error)
	TokenList(ctx context.Context, p *TokenListParams) ([]Token, error)
	// TokenRevoke revokes the token with id (idempotent: revoking twice keeps
	// the first RevokedAt) and returns it; ErrNotFound when there is none.
	TokenRevoke(ctx context.Context, id string) (*Token, error)

	// AuditInsert appends an entry (At defaults to now).
	AuditInsert(ctx context.Context, e *AuditEntry) error
	AuditList(ctx context.Context, p *AuditListParams) ([]AuditEntry, error)
}
