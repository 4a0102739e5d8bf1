package api

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/ia-modules/ia-go/pkg/dag"
	"github.com/ia-modules/ia-go/pkg/state"
)

// Wire types shared with pkg/client.

// Pipeline is one version of a pipeline.
type Pipeline struct {
	ID         string          `json:"id"`
	Slug       string          `json:"slug"`
	Name       string          `json:"name"`
	Version    int             `json:"version"`
	Hash       string          `json:"hash"`
	CreatedAt  time.Time       `json:"created_at"`
	Definition json.RawMessage `json:"definition,omitempty"`
}

// PipelineDetail is a pipeline version and the list of every version.
type PipelineDetail struct {
	Pipeline
	Versions []Pipeline `json:"versions"`
}

// PipelineList lists the latest version of every pipeline.
type PipelineList struct {
	Pipelines []Pipeline `json:"pipelines"`
}

// PipelinePutRequest creates or updates a pipeline (a new version when the
// definition changed).
type PipelinePutRequest struct {
	Definition json.RawMessage `json:"definition"`
}

// PipelinePutResponse is the current version and whether it was created.
type PipelinePutResponse struct {
	Pipeline
	Changed bool `json:"changed"`
}

// PipelineImportRequest imports many pipelines at once (a directory): all
// are validated before any is stored.
type PipelineImportRequest struct {
	Pipelines []PipelineImportItem `json:"pipelines"`
}

// PipelineImportItem is one file of an import.
type PipelineImportItem struct {
	Slug       string          `json:"slug"`
	Definition json.RawMessage `json:"definition"`
}

// PipelineImportResponse reports each import; Changed is false when the
// content hash matched the latest version (nothing was written).
type PipelineImportResponse struct {
	Pipelines []PipelinePutResponse `json:"pipelines"`
}

// ValidateRequest checks a definition without saving it.
type ValidateRequest struct {
	Definition json.RawMessage `json:"definition"`
}

// ValidateResponse lists the definition's problems.
type ValidateResponse struct {
	Valid    bool          `json:"valid"`
	Problems []dag.Problem `json:"problems"`
}

// SubmitRequest starts a run of a pipeline (latest version of Pipeline, or
// exactly PipelineVersionID).
type SubmitRequest struct {
	Pipeline          string          `json:"pipeline,omitempty"`
	PipelineVersionID string          `json:"pipeline_version_id,omitempty"`
	Input             json.RawMessage `json:"input,omitempty"`
	// Priority: -1 low, 0 normal (default), 1 high.
	Priority int `json:"priority,omitempty"`
	// IdempotencyKey (or the Idempotency-Key header): a repeat by the same
	// caller returns the first run.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// Run is one run.
type Run struct {
	ID                string          `json:"id"`
	PipelineVersionID string          `json:"pipeline_version_id"`
	Pipeline          string          `json:"pipeline"`
	Status            string          `json:"status"`
	Input             json.RawMessage `json:"input,omitempty"`
	Output            json.RawMessage `json:"output,omitempty"`
	Error             string          `json:"error,omitempty"`
	Priority          int             `json:"priority"`
	IdempotencyKey    string          `json:"idempotency_key,omitempty"`
	CreatedBy         string          `json:"created_by"`
	CreatedAt         time.Time       `json:"created_at"`
	UpdatedAt         time.Time       `json:"updated_at"`
	FinishedAt        *time.Time      `json:"finished_at,omitempty"`
}

// RunDetail is a run with every step's attempts and its human tasks.
type RunDetail struct {
	Run
	Steps      []Step      `json:"steps"`
	HumanTasks []HumanTask `json:"human_tasks"`
}

// Step is one step of a run; Status is its latest attempt's.
type Step struct {
	StepID   string    `json:"step_id"`
	Status   string    `json:"status"`
	Attempts []Attempt `json:"attempts"`
}

// Attempt is one attempt of a step in one loop iteration.
type Attempt struct {
	Iteration  int             `json:"iteration"`
	Attempt    int             `json:"attempt"`
	Status     string          `json:"status"`
	Input      json.RawMessage `json:"input,omitempty"`
	Output     json.RawMessage `json:"output,omitempty"`
	Error      string          `json:"error,omitempty"`
	WorkerID   string          `json:"worker_id,omitempty"`
	StartedAt  *time.Time      `json:"started_at,omitempty"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`
	DurationMS *int64          `json:"duration_ms,omitempty"`
}

// RunList is one page of runs, newest first.
type RunList struct {
	Runs       []Run  `json:"runs"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// CancelRequest optionally says why a run is cancelled.
type CancelRequest struct {
	Reason string `json:"reason,omitempty"`
}

// HumanTask is a request for a human decision.
type HumanTask struct {
	ID        string          `json:"id"`
	RunID     string          `json:"run_id"`
	StepID    string          `json:"step_id"`
	Iteration int             `json:"iteration"`
	Pipeline  string          `json:"pipeline"`
	Status    string          `json:"status"`
	Prompt    string          `json:"prompt"`
	UISchema  json.RawMessage `json:"ui_schema,omitempty"`
	Assignees []string        `json:"assignees"`
	Quorum    int             `json:"quorum"`
	Decisions []Decision      `json:"decisions"`
	Deadline  *time.Time      `json:"deadline,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	ClosedAt  *time.Time      `json:"closed_at,omitempty"`
}

// Decision is one reviewer's decision.
type Decision struct {
	By        string          `json:"by"`
	Decision  json.RawMessage `json:"decision"`
	DecidedAt time.Time       `json:"decided_at"`
}

// HumanTaskList lists human tasks, oldest first.
type HumanTaskList struct {
	HumanTasks []HumanTask `json:"human_tasks"`
}

// DecisionRequest decides a human task. Decision must match the task's
// ui_schema fields.
type DecisionRequest struct {
	Decision json.RawMessage `json:"decision"`
}

// TokenCreateRequest creates an API token.
type TokenCreateRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// Token is an API token; Secret is only set in the creation response.
type Token struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	CreatedBy string     `json:"created_by,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Secret    string     `json:"token,omitempty"`
}

// TokenList lists tokens.
type TokenList struct {
	Tokens []Token `json:"tokens"`
}

// AuditEntry is one audited request.
type AuditEntry struct {
	ID      int64           `json:"id"`
	At      time.Time       `json:"at"`
	Actor   string          `json:"actor"`
	Role    string          `json:"role,omitempty"`
	Action  string          `json:"action"`
	Method  string          `json:"method"`
	Path    string          `json:"path"`
	Target  string          `json:"target,omitempty"`
	Status  int             `json:"status"`
	Details json.RawMessage `json:"details,omitempty"`
}

// AuditList lists audit entries, newest first.
type AuditList struct {
	Entries []AuditEntry `json:"entries"`
}

// Event is one live run event, as sent in an SSE "data:" line. Its Seq is
// the SSE id: per run on /v1/runs/{id}/events, global on /v1/events.
type Event struct {
	Seq    int64           `json:"seq"`
	RunID  string          `json:"run_id"`
	StepID string          `json:"step_id,omitempty"`
	Type   string          `json:"type"`
	Data   json.RawMessage `json:"data,omitempty"`
	At     time.Time       `json:"at"`
}

// Health is the body of /healthz and /readyz.
type Health struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

func pipelineOf(pv *state.PipelineVersion, withDef bool) Pipeline {
	p := Pipeline{ID: pv.ID, Slug: pv.Slug, Name: pv.Name, Version: pv.Version, Hash: pv.Hash, CreatedAt: pv.CreatedAt}
	if withDef {
		p.Definition = pv.Definition
	}
	return p
}

func runOf(r *state.Run) Run {
	key := r.IdempotencyKey
	if _, k, ok := strings.Cut(key, idemSep); ok {
		key = k
	}
	return Run{ID: r.ID, PipelineVersionID: r.PipelineVersionID, Pipeline: r.PipelineSlug, Status: r.Status, Input: r.Input,
		Output: r.Output, Error: r.Error, Priority: r.Priority, IdempotencyKey: key, CreatedBy: r.CreatedBy,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, FinishedAt: r.FinishedAt}
}

func humanTaskOf(t *state.HumanTask) HumanTask {
	h := HumanTask{ID: t.ID, RunID: t.RunID, StepID: t.StepID, Iteration: t.Iteration, Pipeline: t.Pipeline, Status: t.Status,
		Prompt: t.Prompt, UISchema: t.UISchema, Assignees: t.Assignees, Quorum: t.Quorum, Deadline: t.Deadline,
		CreatedAt: t.CreatedAt, ClosedAt: t.ClosedAt, Decisions: []Decision{}}
	if h.Assignees == nil {
		h.Assignees = []string{}
	}
	if string(h.UISchema) == "null" {
		h.UISchema = nil
	}
	for _, d := range t.Decisions {
		h.Decisions = append(h.Decisions, Decision{By: d.By, Decision: d.Decision, DecidedAt: d.DecidedAt})
	}
	return h
}

func tokenOf(t *state.Token) Token {
	return Token{ID: t.ID, Name: t.Name, Role: t.Role, CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt, RevokedAt: t.RevokedAt}
}

// idemSep separates the caller from the idempotency key in the stored key,
// so two callers' keys never collide.
const idemSep = "\x1f"
