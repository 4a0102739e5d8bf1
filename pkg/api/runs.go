package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/ia-modules/ia-go/pkg/dag"
	"github.com/ia-modules/ia-go/pkg/scheduler"
	"github.com/ia-modules/ia-go/pkg/state"
)

// RunListLimitMax caps GET /v1/runs?limit.
const RunListLimitMax = 500

var runStatuses = []string{state.RunPending, state.RunRunning, state.RunWaiting, state.RunCompleted, state.RunFailed, state.RunCancelled}

func (s *Server) runsSubmit(w http.ResponseWriter, r *http.Request) *httpError {
	c := callerOf(r)
	var req SubmitRequest
	if e := decode(r, &req); e != nil {
		return e
	}
	key := req.IdempotencyKey
	if h := r.Header.Get("Idempotency-Key"); h != "" {
		if key != "" && key != h {
			return errorf(http.StatusBadRequest, CodeInvalidArgument, "idempotency_key", "idempotency_key and the Idempotency-Key header differ")
		}
		key = h
	}
	if len(key) > 200 {
		return errorf(http.StatusBadRequest, CodeInvalidArgument, "idempotency_key", "idempotency key is longer than 200 characters")
	}
	if (req.Pipeline == "") == (req.PipelineVersionID == "") {
		return errorf(http.StatusBadRequest, CodeInvalidArgument, "pipeline", "give exactly one of pipeline (a slug) or pipeline_version_id")
	}
	if req.Priority < -1 || req.Priority > 1 {
		return errorf(http.StatusBadRequest, CodeInvalidArgument, "priority", "priority must be -1 (low), 0 (normal) or 1 (high)")
	}
	input := map[string]any{}
	if raw := bytes.TrimSpace(req.Input); len(raw) > 0 && string(raw) != "null" {
		if raw[0] != '{' {
			return errorf(http.StatusBadRequest, CodeInvalidType, "input", "input must be a JSON object")
		}
		if err := json.Unmarshal(raw, &input); err != nil {
			return errorf(http.StatusBadRequest, CodeInvalidType, "input", "input must be a JSON object: %v", err)
		}
	}
	var (
		pv  *state.PipelineVersion
		err error
	)
	if req.Pipeline != "" {
		pv, err = s.cfg.Store.PipelineVersionLatest(r.Context(), req.Pipeline)
		if errors.Is(err, state.ErrNotFound) {
			return notFound("pipeline", "pipeline", req.Pipeline)
		}
	} else {
		pv, err = s.cfg.Store.PipelineVersionGet(r.Context(), req.PipelineVersionID)
		if errors.Is(err, state.ErrNotFound) {
			return notFound("pipeline_version_id", "pipeline version", req.PipelineVersionID)
		}
	}
	if err != nil {
		return internal(err)
	}
	p := &scheduler.SubmitParams{PipelineVersionID: pv.ID, Input: input, Priority: req.Priority, CreatedBy: c.name()}
	if key != "" {
		p.IdempotencyKey = c.name() + idemSep + key
	}
	run, created, err := s.cfg.Scheduler.Submit(r.Context(), p)
	if errors.Is(err, scheduler.ErrInvalidInput) {
		return errorf(http.StatusUnprocessableEntity, CodeInvalidInput, "input", "%v", err)
	}
	if err != nil {
		return internal(err)
	}
	noteAudit(r, run.ID, map[string]any{"pipeline": pv.Slug, "pipeline_version_id": pv.ID, "created": created})
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	writeJSON(w, status, runOf(run))
	return nil
}

func (s *Server) runsList(w http.ResponseWriter, r *http.Request) *httpError {
	c := callerOf(r)
	q := r.URL.Query()
	p := &state.RunListParams{Status: q.Get("status"), PipelineSlug: q.Get("pipeline"), CreatedBy: q.Get("created_by"), Cursor: q.Get("cursor"), Limit: 50}
	if p.Status != "" && !slices.Contains(runStatuses, p.Status) {
		return errorf(http.StatusBadRequest, CodeInvalidArgument, "status", "unknown status %q", p.Status)
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"since", &p.Since}, {"until", &p.Until}} {
		if v := q.Get(t.name); v != "" {
			ts, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return errorf(http.StatusBadRequest, CodeInvalidArgument, t.name, "%s must be an RFC 3339 time, not %q", t.name, v)
			}
			*t.dst = ts
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > RunListLimitMax {
			return errorf(http.StatusBadRequest, CodeInvalidArgument, "limit", "limit must be between 1 and %d", RunListLimitMax)
		}
		p.Limit = n
	}
	if p.Cursor != "" {
		if _, err := base64.RawURLEncoding.DecodeString(p.Cursor); err != nil {
			return errorf(http.StatusBadRequest, CodeInvalidArgument, "cursor", "invalid cursor")
		}
	}
	if c.is(state.RoleProducer) {
		p.CreatedBy = c.name() // producers read their own runs only
	}
	runs, next, err := s.cfg.Store.RunList(r.Context(), p)
	if err != nil {
		if p.Cursor != "" {
			return errorf(http.StatusBadRequest, CodeInvalidArgument, "cursor", "invalid cursor: %v", err)
		}
		return internal(err)
	}
	out := RunList{Runs: []Run{}, NextCursor: next}
	for i := range runs {
		out.Runs = append(out.Runs, runOf(&runs[i]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// loadRun reads a run the caller may see; producers see only their own
// runs (others look missing).
func (s *Server) loadRun(r *http.Request) (*state.Run, *httpError) {
	id := r.PathValue("id")
	run, err := s.cfg.Store.RunGet(r.Context(), id)
	if errors.Is(err, state.ErrNotFound) {
		return nil, notFound("id", "run", id)
	}
	if err != nil {
		return nil, internal(err)
	}
	if c := callerOf(r); c != nil && c.is(state.RoleProducer) && run.CreatedBy != c.name() {
		return nil, notFound("id", "run", id)
	}
	return run, nil
}

func (s *Server) runsGet(w http.ResponseWriter, r *http.Request) *httpError {
	run, e := s.loadRun(r)
	if e != nil {
		return e
	}
	attempts, err := s.cfg.Store.StepAttemptList(r.Context(), run.ID)
	if err != nil {
		return internal(err)
	}
	tasks, err := s.cfg.Store.HumanTaskList(r.Context(), &state.HumanTaskListParams{RunID: run.ID})
	if err != nil {
		return internal(err)
	}
	out := RunDetail{Run: runOf(run), Steps: []Step{}, HumanTasks: []HumanTask{}}
	index := map[string]int{}
	for _, a := range attempts {
		i, ok := index[a.StepID]
		if !ok {
			i = len(out.Steps)
			index[a.StepID] = i
			out.Steps = append(out.Steps, Step{StepID: a.StepID})
		}
		at := Attempt{Iteration: a.Iteration, Attempt: a.Attempt, Status: a.Status, Input: nullRaw(a.Input), Output: nullRaw(a.Output),
			Error: a.Error, WorkerID: a.WorkerID, StartedAt: a.StartedAt, FinishedAt: a.FinishedAt}
		if a.StartedAt != nil && a.FinishedAt != nil {
			d := a.FinishedAt.Sub(*a.StartedAt).Milliseconds()
			at.DurationMS = &d
		}
		out.Steps[i].Attempts = append(out.Steps[i].Attempts, at)
		out.Steps[i].Status = a.Status
	}
	for i := range tasks {
		out.HumanTasks = append(out.HumanTasks, humanTaskOf(&tasks[i]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func nullRaw(b json.RawMessage) json.RawMessage {
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	return b
}

func terminal(status string) bool {
	return status == state.RunCompleted || status == state.RunFailed || status == state.RunCancelled
}

func (s *Server) runsCancel(w http.ResponseWriter, r *http.Request) *httpError {
	var req CancelRequest
	if r.ContentLength != 0 {
		if e := decode(r, &req); e != nil {
			return e
		}
	}
	run, e := s.loadRun(r)
	if e != nil {
		return e
	}
	if terminal(run.Status) {
		return errorf(http.StatusConflict, CodeConflict, "id", "run %s is already %s", run.ID, run.Status)
	}
	reason := req.Reason
	if reason == "" {
		reason = "cancelled by " + callerOf(r).name()
	}
	if err := s.cfg.Scheduler.Cancel(r.Context(), run.ID, reason); err != nil {
		return applyError(err)
	}
	noteAudit(r, run.ID, map[string]any{"reason": reason})
	return s.writeRun(w, r, run.ID, http.StatusAccepted)
}

func (s *Server) runsResume(w http.ResponseWriter, r *http.Request) *httpError {
	run, e := s.loadRun(r)
	if e != nil {
		return e
	}
	if run.Status != state.RunFailed && run.Status != state.RunCancelled {
		return errorf(http.StatusConflict, CodeConflict, "id", "run %s is %s; only failed or cancelled runs resume", run.ID, run.Status)
	}
	if err := s.cfg.Scheduler.Resume(r.Context(), run.ID); err != nil {
		return applyError(err)
	}
	return s.writeRun(w, r, run.ID, http.StatusAccepted)
}

// runsRetryStep retries one failed step. Resuming a run restarts exactly its
// failed (and cancelled) steps and reuses every other output, so a retry is
// a resume guarded by the step being failed.
func (s *Server) runsRetryStep(w http.ResponseWriter, r *http.Request) *httpError {
	run, e := s.loadRun(r)
	if e != nil {
		return e
	}
	step := r.PathValue("step")
	attempts, err := s.cfg.Store.StepAttemptList(r.Context(), run.ID)
	if err != nil {
		return internal(err)
	}
	last := ""
	for _, a := range attempts {
		if a.StepID == step {
			last = a.Status
		}
	}
	switch {
	case last == "":
		return notFound("step", "step", step)
	case last != "failed" || run.Status != state.RunFailed:
		return errorf(http.StatusConflict, CodeConflict, "step", "step %q is %s in a %s run; only a failed step of a failed run can be retried", step, last, run.Status)
	}
	if err := s.cfg.Scheduler.Resume(r.Context(), run.ID); err != nil {
		return applyError(err)
	}
	noteAudit(r, run.ID, map[string]any{"step_id": step})
	return s.writeRun(w, r, run.ID, http.StatusAccepted)
}

func applyError(err error) *httpError {
	if errors.Is(err, dag.ErrStale) {
		return errorf(http.StatusConflict, CodeConflict, "id", "%v", err)
	}
	return internal(err)
}

func (s *Server) writeRun(w http.ResponseWriter, r *http.Request, id string, status int) *httpError {
	run, err := s.cfg.Store.RunGet(r.Context(), id)
	if err != nil {
		return internal(err)
	}
	writeJSON(w, status, runOf(run))
	return nil
}
