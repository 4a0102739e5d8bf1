package state

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Sentinel errors. Backends translate their driver errors into these so no
// driver type crosses the seam.
var (
	// ErrNotFound: the record does not exist.
	ErrNotFound = errors.New("state: not found")
	// ErrConflict: an optimistic-concurrency check failed (the run's version
	// moved on since it was read). Nothing was written; re-read and retry.
	ErrConflict = errors.New("state: version conflict")
	// ErrAlreadyDecided: a human task was decided (or expired, or cancelled)
	// before this decision. Nothing was written.
	ErrAlreadyDecided = errors.New("state: human task already decided")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("state: store closed")
)

// Run statuses.
const (
	RunPending   = "pending"
	RunRunning   = "running"
	RunWaiting   = "waiting_for_human"
	RunCompleted = "completed"
	RunFailed    = "failed"
	RunCancelled = "cancelled"
)

// Human task statuses.
const (
	HumanPending   = "pending"
	HumanDecided   = "decided"
	HumanExpired   = "expired"
	HumanCancelled = "cancelled"
)

// PipelineVersion is one immutable version of a pipeline definition. Runs are
// pinned to the version they started with.
type PipelineVersion struct {
	ID         string // uuid
	Slug       string
	Name       string
	Version    int // 1, 2, ... per slug
	Hash       string
	Definition json.RawMessage
	CreatedAt  time.Time
}

// Run is one execution of a pipeline version.
type Run struct {
	ID                string
	PipelineVersionID string
	PipelineSlug      string
	Status            string
	Input             json.RawMessage
	Output            json.RawMessage // nil until finished
	Error             string
	Priority          int
	IdempotencyKey    string // "" for none
	CreatedBy         string
	// State is the engine's serialized run state (opaque to the store).
	State json.RawMessage
	// Version increases by one on every successful RunUpdate.
	Version    int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt *time.Time
}

// StepAttempt is one attempt of one step in one loop iteration. The key is
// (RunID, StepID, Iteration, Attempt); an upsert with the same key replaces
// the non-zero fields, except two: StartedAt, once stored, is kept, and a
// record with Status "running" never changes a stored status. A scheduler
// may write an attempt's start after its end (see StepAttemptPut); the
// start fills in what the end left out and does not reopen it.
type StepAttempt struct {
	RunID      string
	StepID     string
	Iteration  int
	Attempt    int
	Status     string // running, succeeded, failed, skipped, waiting, cancelled
	Input      json.RawMessage
	Output     json.RawMessage
	Error      string
	WorkerID   string
	StartedAt  *time.Time
	FinishedAt *time.Time
}

// OutboxMessage is a message to publish once the transaction that wrote it
// has committed. DeliverAt in the future delays it (retry backoff, timers).
type OutboxMessage struct {
	Seq       int64 // assigned by the store
	RunID     string
	Queue     string
	MsgID     string // broker de-duplication id
	Priority  int
	Headers   map[string]string
	Body      []byte
	DeliverAt time.Time // zero: at once
	// ClaimedUntil, when set on insert, keeps relays from claiming the
	// message until then: its writer publishes it itself right after the
	// commit and deletes it, and a relay takes over only if that writer died
	// first. Zero: claimable as soon as it is due.
	ClaimedUntil time.Time
}

// HumanDecision is one reviewer's decision on a human task.
type HumanDecision struct {
	By        string
	Decision  json.RawMessage
	DecidedAt time.Time
}

// HumanTask is a pending request for a human decision.
type HumanTask struct {
	ID        string
	RunID     string
	StepID    string
	Iteration int
	Pipeline  string
	Status    string
	Prompt    string
	UISchema  json.RawMessage
	Assignees []string // user names or "role:NAME"
	Quorum    int      // approvals needed; 0 or 1: one decision decides
	Config    json.RawMessage
	Decisions []HumanDecision
	Deadline  *time.Time
	CreatedAt time.Time
	ClosedAt  *time.Time
}

// PipelineVersionPutParams creates a version unless the latest version of
// Slug already has Hash, in which case that one is returned.
type PipelineVersionPutParams struct {
	Slug       string
	Name       string
	Hash       string
	Definition json.RawMessage
}

// RunInsertParams inserts a run and its first outbox messages atomically.
type RunInsertParams struct {
	Run Run
	// Outbox messages; on success each one's Seq is set in place.
	Outbox []OutboxMessage
	// Attempts and HumanTasks of the run's first decision, written with
	// the run (and not at all when an idempotency key finds an existing run).
	Attempts   []StepAttempt
	HumanTasks []HumanTask
}

// RunUpdateParams applies one scheduler decision atomically: the run row
// (guarded by ExpectedVersion), step attempts, outbox messages and human tasks.
type RunUpdateParams struct {
	ID              string
	ExpectedVersion int64
	Status          string
	State           json.RawMessage
	Output          json.RawMessage // set when finished
	Error           string
	Finished        bool
	Attempts        []StepAttempt // upserted
	// Outbox messages are inserted; on success each one's Seq is set in
	// place, so the caller can publish them at once and delete them.
	Outbox     []OutboxMessage
	HumanTasks []HumanTask // inserted (or replaced by ID)
	// OutboxDelete lists outbox rows (of any run) already published, to
	// delete in the same transaction when the update applies: a scheduler
	// then pays one transaction per decision, not a second for the delete.
	OutboxDelete []int64
}

// RunListParams filters and pages runs, newest first.
type RunListParams struct {
	Status       string
	PipelineSlug string
	CreatedBy    string
	Since, Until time.Time
	Cursor       string // opaque; "" for the first page
	Limit        int    // default 50
}

// HumanTaskListParams filters human tasks.
type HumanTaskListParams struct {
	Status   string
	Assignee string // matches a user name or "role:NAME" entry
	Pipeline string
	RunID    string
	Limit    int
}

// HumanTaskDecideParams records one decision. When the task has reached its
// quorum (or Close is set), it is closed with Status and no further decision is
// accepted: a later call gets ErrAlreadyDecided.
type HumanTaskDecideParams struct {
	ID       string
	Decision HumanDecision
	// Status to set when closing: HumanDecided (default), HumanExpired or
	// HumanCancelled.
	Status string
	// Close closes the task regardless of the quorum (timeouts, cancels).
	Close bool
}

// OutboxClaimParams leases due outbox messages to one relay.
type OutboxClaimParams struct {
	Now      time.Time
	Limit    int
	LeaseFor time.Duration
}

// Store is the durable truth. Every method is safe for concurrent use.
type Store interface {
	PipelineVersionPut(ctx context.Context, p *PipelineVersionPutParams) (*PipelineVersion, bool, error)
	PipelineVersionGet(ctx context.Context, id string) (*PipelineVersion, error)
	PipelineVersionLatest(ctx context.Context, slug string) (*PipelineVersion, error)
	PipelineVersionList(ctx context.Context, slug string) ([]PipelineVersion, error)
	PipelineList(ctx context.Context) ([]PipelineVersion, error)

	// RunInsert inserts the run; when a run with the same IdempotencyKey
	// exists it returns that run and false, writing nothing.
	RunInsert(ctx context.Context, p *RunInsertParams) (*Run, bool, error)
	RunGet(ctx context.Context, id string) (*Run, error)
	RunList(ctx context.Context, p *RunListParams) ([]Run, string, error)
	// RunUpdate returns ErrConflict when the run's version is not
	// ExpectedVersion, and the updated run otherwise.
	RunUpdate(ctx context.Context, p *RunUpdateParams) (*Run, error)
	StepAttemptList(ctx context.Context, runID string) ([]StepAttempt, error)
	// StepAttemptPut upserts attempt records of any runs outside a
	// decision, as RunUpdate upserts its own: a scheduler's record of an
	// attempt it started, held back to be written with the attempt's end,
	// for an attempt that outlasted the wait. Records of runs that do not
	// exist are skipped.
	StepAttemptPut(ctx context.Context, attempts []StepAttempt) error

	// OutboxClaim returns up to Limit messages due at Now that no other
	// relay holds, leasing them for LeaseFor.
	OutboxClaim(ctx context.Context, p *OutboxClaimParams) ([]OutboxMessage, error)
	// OutboxDelete removes published messages.
	OutboxDelete(ctx context.Context, seqs []int64) error
	// OutboxNextDue reports when the earliest unclaimed message is due.
	OutboxNextDue(ctx context.Context) (time.Time, bool, error)

	HumanTaskGet(ctx context.Context, id string) (*HumanTask, error)
	HumanTaskList(ctx context.Context, p *HumanTaskListParams) ([]HumanTask, error)
	HumanTaskDecide(ctx context.Context, p *HumanTaskDecideParams) (*HumanTask, error)

	// BlobPut stores a large payload under key (idempotent); BlobGet reads it.
	BlobPut(ctx context.Context, key string, data []byte) error
	BlobGet(ctx context.Context, key string) ([]byte, error)

	Close() error
}
