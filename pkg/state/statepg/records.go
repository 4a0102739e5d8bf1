package statepg

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/ia-modules/ia-go/pkg/state"
)

// The *Rec types are the JSON rows that batched writes hand to
// jsonb_to_recordset: one statement, and one cached plan, whatever the number
// of rows. Omitted fields arrive as NULL, which the SQL reads as "keep".

type attemptRec struct {
	RunID      string          `json:"run_id"`
	StepID     string          `json:"step_id"`
	Iteration  int             `json:"iteration"`
	Attempt    int             `json:"attempt"`
	Status     string          `json:"status,omitempty"`
	Input      json.RawMessage `json:"input,omitempty"`
	Output     json.RawMessage `json:"output,omitempty"`
	Error      string          `json:"error,omitempty"`
	WorkerID   string          `json:"worker_id,omitempty"`
	StartedAt  *time.Time      `json:"started_at,omitempty"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`
}

// attemptUpsertSQL upserts the attempts of the jsonb array $1 (attemptRecs).
var attemptUpsertSQL = attemptInsertInto + `
SELECT x.run_id, x.step_id, x.iteration, x.attempt, coalesce(x.status, ''), x.input, x.output,
	coalesce(x.error, ''), coalesce(x.worker_id, ''), x.started_at, x.finished_at
FROM jsonb_to_recordset($1::jsonb) AS x(run_id text, step_id text, iteration int, attempt int, status text,
	input jsonb, output jsonb, error text, worker_id text, started_at timestamptz, finished_at timestamptz)
` + attemptOrder + attemptOnConflict

const attemptInsertInto = `INSERT INTO step_attempts
	(run_id, step_id, iteration, attempt, status, input, output, error, worker_id, started_at, finished_at)`

// attemptOnConflict merges an upserted attempt into the stored one: zero
// (NULL or ”) fields keep the stored value, a stored start is kept, and a
// late "running" record does not change the status (state.StepAttempt).
const attemptOnConflict = `
ON CONFLICT (run_id, step_id, iteration, attempt) DO UPDATE SET
	status = CASE WHEN EXCLUDED.status = 'running' THEN step_attempts.status
		ELSE coalesce(nullif(EXCLUDED.status, ''), step_attempts.status) END,
	input = coalesce(EXCLUDED.input, step_attempts.input),
	output = coalesce(EXCLUDED.output, step_attempts.output),
	error = coalesce(nullif(EXCLUDED.error, ''), step_attempts.error),
	worker_id = coalesce(nullif(EXCLUDED.worker_id, ''), step_attempts.worker_id),
	started_at = coalesce(step_attempts.started_at, EXCLUDED.started_at),
	finished_at = coalesce(EXCLUDED.finished_at, step_attempts.finished_at)`

// attemptRecs converts attempts, merging duplicates of one key in order as
// attemptOnConflict would: Postgres refuses to upsert the same row twice in
// one statement.
func attemptRecs(runID string, as []state.StepAttempt) []attemptRec {
	type key struct {
		step       string
		iter, attm int
	}
	idx := make(map[key]int, len(as))
	out := make([]attemptRec, 0, len(as))
	for _, a := range as {
		r := attemptRec{
			RunID: runID, StepID: a.StepID, Iteration: a.Iteration, Attempt: a.Attempt,
			Status: a.Status, Input: a.Input, Output: a.Output, Error: a.Error, WorkerID: a.WorkerID,
			StartedAt: usPtr(a.StartedAt), FinishedAt: usPtr(a.FinishedAt),
		}
		k := key{a.StepID, a.Iteration, a.Attempt}
		i, dup := idx[k]
		if !dup {
			idx[k] = len(out)
			out = append(out, r)
			continue
		}
		prev := &out[i]
		if r.Status != "" && r.Status != "running" {
			prev.Status = r.Status
		}
		if r.Input != nil {
			prev.Input = r.Input
		}
		if r.Output != nil {
			prev.Output = r.Output
		}
		if r.Error != "" {
			prev.Error = r.Error
		}
		if r.WorkerID != "" {
			prev.WorkerID = r.WorkerID
		}
		if prev.StartedAt == nil {
			prev.StartedAt = r.StartedAt
		}
		if r.FinishedAt != nil {
			prev.FinishedAt = r.FinishedAt
		}
	}
	return out
}

type outboxRec struct {
	RunID     string            `json:"run_id,omitempty"`
	Queue     string            `json:"queue"`
	MsgID     string            `json:"msg_id,omitempty"`
	Priority  int               `json:"priority,omitempty"`
	Headers   map[string]string `json:"headers,omitempty"`
	Body      []byte            `json:"body,omitempty"` // base64
	DeliverAt *time.Time        `json:"deliver_at,omitempty"`
	Claimed   *time.Time        `json:"claimed_until,omitempty"`
}

// outboxInsertFrom returns the SELECT feeding an outbox INSERT from the
// jsonb parameter arg; append FROM items to gate it.
func outboxInsertFrom(arg string) string {
	return `SELECT coalesce(x.run_id, ''), x.queue, coalesce(x.msg_id, ''), coalesce(x.priority, 0),
	x.headers, decode(x.body, 'base64'), coalesce(x.deliver_at, now()), x.claimed_until
FROM jsonb_to_recordset(` + arg + `::jsonb) AS x(run_id text, queue text, msg_id text, priority int,
	headers jsonb, body text, deliver_at timestamptz, claimed_until timestamptz)`
}

const outboxInsertInto = `INSERT INTO outbox (run_id, queue, msg_id, priority, headers, body, deliver_at, claimed_until) `

var (
	outboxInsertSelect = outboxInsertFrom("$1")
	outboxInsertSQL    = outboxInsertInto + outboxInsertSelect
)

// setSeqs reports the seqs of inserted outbox rows back into ms, matched by
// msg_id since RETURNING order is not guaranteed, so the caller can publish
// at once after commit and delete exactly those rows.
func setSeqs(ms []state.OutboxMessage, seqs []int64, msgIDs []string) {
	for k, seq := range seqs {
		for i := range ms {
			if ms[i].MsgID == msgIDs[k] && ms[i].Seq == 0 {
				ms[i].Seq = seq
				break
			}
		}
	}
}

func outboxRecs(runID string, ms []state.OutboxMessage) []outboxRec {
	out := make([]outboxRec, len(ms))
	for i, m := range ms {
		r := outboxRec{RunID: m.RunID, Queue: m.Queue, MsgID: m.MsgID, Priority: m.Priority, Headers: m.Headers, Body: m.Body}
		if r.RunID == "" {
			r.RunID = runID
		}
		r.DeliverAt, r.Claimed = usOrNil(m.DeliverAt), usOrNil(m.ClaimedUntil)
		out[i] = r
	}
	return out
}

type humanRec struct {
	ID        string                `json:"id"`
	RunID     string                `json:"run_id"`
	StepID    string                `json:"step_id"`
	Iteration int                   `json:"iteration"`
	Pipeline  string                `json:"pipeline"`
	Status    string                `json:"status"`
	Prompt    string                `json:"prompt"`
	UISchema  json.RawMessage       `json:"ui_schema,omitempty"`
	Assignees []string              `json:"assignees"`
	Quorum    int                   `json:"quorum"`
	Config    json.RawMessage       `json:"config,omitempty"`
	Decisions []state.HumanDecision `json:"decisions"`
	Deadline  *time.Time            `json:"deadline,omitempty"`
	CreatedAt time.Time             `json:"created_at"`
	ClosedAt  *time.Time            `json:"closed_at,omitempty"`
}

// humanUpsert returns the human task upsert reading its rows from the jsonb
// parameter arg; from is appended to the FROM list to gate it.
func humanUpsert(arg, from string) string {
	return `INSERT INTO human_tasks
	(id, run_id, step_id, iteration, pipeline, status, prompt, ui_schema, assignees, quorum, config, decisions, deadline, created_at, closed_at)
SELECT x.id, x.run_id, x.step_id, x.iteration, x.pipeline, x.status, x.prompt, x.ui_schema, x.assignees, x.quorum,
	x.config, x.decisions, x.deadline, x.created_at, x.closed_at
FROM jsonb_to_recordset(` + arg + `::jsonb) AS x(id text, run_id text, step_id text, iteration int, pipeline text, status text,
	prompt text, ui_schema jsonb, assignees jsonb, quorum int, config jsonb, decisions jsonb, deadline timestamptz,
	created_at timestamptz, closed_at timestamptz)` + from + `
ON CONFLICT (id) DO UPDATE SET
	run_id = EXCLUDED.run_id, step_id = EXCLUDED.step_id, iteration = EXCLUDED.iteration,
	pipeline = EXCLUDED.pipeline, status = EXCLUDED.status, prompt = EXCLUDED.prompt,
	ui_schema = EXCLUDED.ui_schema, assignees = EXCLUDED.assignees, quorum = EXCLUDED.quorum,
	config = EXCLUDED.config, decisions = EXCLUDED.decisions, deadline = EXCLUDED.deadline,
	created_at = EXCLUDED.created_at, closed_at = EXCLUDED.closed_at`
}

var humanUpsertSQL = humanUpsert("$1", "")

// humanRecs converts tasks, assigning missing IDs (written back into ts so
// the caller learns them), the pending status and the creation time.
func humanRecs(runID string, ts []state.HumanTask, now time.Time) []humanRec {
	out := make([]humanRec, len(ts))
	for i := range ts {
		t := &ts[i]
		if t.ID == "" {
			t.ID = uuid.NewString()
		}
		r := humanRec{
			ID: t.ID, RunID: runID, StepID: t.StepID, Iteration: t.Iteration, Pipeline: t.Pipeline,
			Status: t.Status, Prompt: t.Prompt, UISchema: t.UISchema, Assignees: t.Assignees,
			Quorum: t.Quorum, Config: t.Config, Decisions: t.Decisions,
			Deadline: usPtr(t.Deadline), CreatedAt: us(t.CreatedAt), ClosedAt: usPtr(t.ClosedAt),
		}
		if r.Status == "" {
			r.Status = state.HumanPending
		}
		if r.Assignees == nil {
			r.Assignees = []string{}
		}
		if r.Decisions == nil {
			r.Decisions = []state.HumanDecision{}
		}
		if t.CreatedAt.IsZero() {
			r.CreatedAt = now
		}
		out[i] = r
	}
	return out
}

// us truncates to the microsecond precision Postgres keeps (it would round),
// in UTC, so what is written reads back equal.
func us(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// usOrNil is us for a set time and nil (NULL) for the zero time.
func usOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = us(t)
	return &t
}

func usPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := us(*t)
	return &v
}

// attemptPutSQL is attemptUpsertSQL for records of any runs, skipping those
// of runs that do not exist.
var attemptPutSQL = attemptInsertInto + `
SELECT x.run_id, x.step_id, x.iteration, x.attempt, coalesce(x.status, ''), x.input, x.output,
	coalesce(x.error, ''), coalesce(x.worker_id, ''), x.started_at, x.finished_at
FROM jsonb_to_recordset($1::jsonb) AS x(run_id text, step_id text, iteration int, attempt int, status text,
	input jsonb, output jsonb, error text, worker_id text, started_at timestamptz, finished_at timestamptz)
WHERE EXISTS (SELECT 1 FROM runs WHERE runs.id = x.run_id)
` + attemptOrder + attemptOnConflict
