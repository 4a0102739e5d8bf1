package api

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/ia-modules/ia-go/pkg/state"
)

var humanStatuses = []string{state.HumanPending, state.HumanDecided, state.HumanExpired, state.HumanCancelled}

func (s *Server) humanList(w http.ResponseWriter, r *http.Request) *httpError {
	q := r.URL.Query()
	p := &state.HumanTaskListParams{Status: q.Get("status"), Assignee: q.Get("assignee"), Pipeline: q.Get("pipeline"), RunID: q.Get("run_id")}
	if p.Status != "" && !slices.Contains(humanStatuses, p.Status) {
		return errorf(http.StatusBadRequest, CodeInvalidArgument, "status", "unknown status %q", p.Status)
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return errorf(http.StatusBadRequest, CodeInvalidArgument, "limit", "limit must be between 1 and 1000")
		}
		p.Limit = n
	}
	tasks, err := s.cfg.Store.HumanTaskList(r.Context(), p)
	if err != nil {
		return internal(err)
	}
	out := HumanTaskList{HumanTasks: []HumanTask{}}
	for i := range tasks {
		out.HumanTasks = append(out.HumanTasks, humanTaskOf(&tasks[i]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) loadTask(r *http.Request) (*state.HumanTask, *httpError) {
	id := r.PathValue("id")
	t, err := s.cfg.Store.HumanTaskGet(r.Context(), id)
	if errors.Is(err, state.ErrNotFound) {
		return nil, notFound("id", "human task", id)
	}
	if err != nil {
		return nil, internal(err)
	}
	return t, nil
}

func (s *Server) humanGet(w http.ResponseWriter, r *http.Request) *httpError {
	t, e := s.loadTask(r)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, humanTaskOf(t))
	return nil
}

// mayDecide reports whether c is an assignee of t: its name, or
// "role:"+its role, is listed (a task without assignees is open to every
// reviewer). Admins may always decide.
func mayDecide(c *caller, t *state.HumanTask) bool {
	if c.is(state.RoleAdmin) || len(t.Assignees) == 0 {
		return true
	}
	return slices.Contains(t.Assignees, c.name()) || slices.Contains(t.Assignees, "role:"+c.role())
}

func decidedBy(t *state.HumanTask) []string {
	out := []string{}
	for _, d := range t.Decisions {
		out = append(out, d.By)
	}
	return out
}

func alreadyDecided(t *state.HumanTask) *httpError {
	e := errorf(http.StatusConflict, CodeAlreadyDecided, "id", "human task %s is %s", t.ID, t.Status)
	e.detail.DecidedBy = decidedBy(t)
	return e
}

func (s *Server) humanDecide(w http.ResponseWriter, r *http.Request) *httpError {
	c := callerOf(r)
	var req DecisionRequest
	if e := decode(r, &req); e != nil {
		return e
	}
	t, e := s.loadTask(r)
	if e != nil {
		return e
	}
	if !mayDecide(c, t) {
		return errorf(http.StatusForbidden, CodeNotAssignee, "", "%s is not an assignee of human task %s", c.name(), t.ID)
	}
	if t.Status != state.HumanPending {
		return alreadyDecided(t)
	}
	if slices.Contains(decidedBy(t), c.name()) {
		e := errorf(http.StatusConflict, CodeAlreadyDecided, "id", "%s has already decided human task %s", c.name(), t.ID)
		e.detail.DecidedBy = decidedBy(t)
		return e
	}
	if fe := ValidateDecision(t.UISchema, req.Decision); fe != nil {
		return errorf(http.StatusUnprocessableEntity, CodeInvalidDecision, fe.Field, "%s", fe.Message)
	}
	noteAudit(r, t.ID, map[string]any{"run_id": t.RunID, "step_id": t.StepID, "decision": req.Decision})
	got, err := s.cfg.Scheduler.DecideHuman(r.Context(), t.ID, state.HumanDecision{By: c.name(), Decision: req.Decision, DecidedAt: time.Now()})
	if errors.Is(err, state.ErrAlreadyDecided) {
		if now, gerr := s.cfg.Store.HumanTaskGet(r.Context(), t.ID); gerr == nil {
			return alreadyDecided(now)
		}
		return alreadyDecided(t)
	}
	if err != nil {
		return internal(err)
	}
	writeJSON(w, http.StatusOK, humanTaskOf(got))
	return nil
}
