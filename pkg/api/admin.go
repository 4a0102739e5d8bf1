package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/ia-modules/ia-go/pkg/state"
)

func (s *Server) tokensCreate(w http.ResponseWriter, r *http.Request) *httpError {
	var req TokenCreateRequest
	if e := decode(r, &req); e != nil {
		return e
	}
	if err := validName(req.Name); err != nil {
		return errorf(http.StatusBadRequest, CodeInvalidArgument, "name", "%v", err)
	}
	tok, err := CreateToken(r.Context(), s.cfg.Auth, req.Name, req.Role, callerOf(r).name())
	if err != nil {
		if errors.Is(err, state.ErrConflict) {
			return internal(err)
		}
		return errorf(http.StatusBadRequest, CodeInvalidArgument, "role", "%v", err)
	}
	noteAudit(r, tok.ID, map[string]any{"name": tok.Name, "role": tok.Role})
	writeJSON(w, http.StatusCreated, tok)
	return nil
}

func (s *Server) tokensList(w http.ResponseWriter, r *http.Request) *httpError {
	inc, _ := strconv.ParseBool(r.URL.Query().Get("include_revoked"))
	toks, err := s.cfg.Auth.TokenList(r.Context(), &state.TokenListParams{IncludeRevoked: inc})
	if err != nil {
		return internal(err)
	}
	out := TokenList{Tokens: []Token{}}
	for i := range toks {
		out.Tokens = append(out.Tokens, tokenOf(&toks[i]))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) tokensRevoke(w http.ResponseWriter, r *http.Request) *httpError {
	id := r.PathValue("id")
	tok, err := s.cfg.Auth.TokenRevoke(r.Context(), id)
	if errors.Is(err, state.ErrNotFound) {
		return notFound("id", "token", id)
	}
	if err != nil {
		return internal(err)
	}
	noteAudit(r, id, map[string]any{"name": tok.Name})
	writeJSON(w, http.StatusOK, tokenOf(tok))
	return nil
}

func (s *Server) auditList(w http.ResponseWriter, r *http.Request) *httpError {
	q := r.URL.Query()
	p := &state.AuditListParams{Actor: q.Get("actor"), Action: q.Get("action"), Target: q.Get("target")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return errorf(http.StatusBadRequest, CodeInvalidArgument, "limit", "limit must be between 1 and 1000")
		}
		p.Limit = n
	}
	es, err := s.cfg.Auth.AuditList(r.Context(), p)
	if err != nil {
		return internal(err)
	}
	out := AuditList{Entries: []AuditEntry{}}
	for _, e := range es {
		out.Entries = append(out.Entries, AuditEntry{ID: e.ID, At: e.At, Actor: e.Actor, Role: e.Role, Action: e.Action, Method: e.Method,
			Path: e.Path, Target: e.Target, Status: e.Status, Details: e.Details})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
