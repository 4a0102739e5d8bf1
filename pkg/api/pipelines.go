package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"

	"github.com/ia-modules/ia-go/pkg/dag"
	"github.com/ia-modules/ia-go/pkg/scheduler"
	"github.com/ia-modules/ia-go/pkg/state"
)

var slugRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

func checkSlug(field, slug string) *httpError {
	if !slugRe.MatchString(slug) {
		return errorf(http.StatusBadRequest, CodeInvalidArgument, field, "pipeline slug %q must be 1-128 letters, digits, '.', '_' or '-'", slug)
	}
	return nil
}

// checkDefinition validates a definition the way PipelineImport will.
func checkDefinition(field, slug string, def json.RawMessage) *httpError {
	if len(bytes.TrimSpace(def)) == 0 || string(def) == "null" {
		return errorf(http.StatusBadRequest, CodeInvalidArgument, field, "%s is required", field)
	}
	if _, probs := dag.Load(slug, def, nil); probs.HasErrors() {
		e := errorf(http.StatusUnprocessableEntity, CodeInvalidPipeline, field, "pipeline %q is invalid: %v", slug, probs.Errors()[0])
		e.detail.Problems = probs
		return e
	}
	return nil
}

func (s *Server) importOne(r *http.Request, field, slug string, def json.RawMessage) (*PipelinePutResponse, *httpError) {
	pv, changed, err := s.cfg.Scheduler.PipelineImport(r.Context(), slug, def)
	if errors.Is(err, scheduler.ErrInvalidInput) {
		return nil, errorf(http.StatusUnprocessableEntity, CodeInvalidPipeline, field, "%v", err)
	}
	if err != nil {
		return nil, internal(err)
	}
	return &PipelinePutResponse{Pipeline: pipelineOf(pv, false), Changed: changed}, nil
}

func (s *Server) pipelinesList(w http.ResponseWriter, r *http.Request) *httpError {
	pvs, err := s.cfg.Store.PipelineList(r.Context())
	if err != nil {
		return internal(err)
	}
	out := PipelineList{Pipelines: []Pipeline{}}
	for i := range pvs {
		out.Pipelines = append(out.Pipelines, pipelineOf(&pvs[i], false))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) pipelinesPut(w http.ResponseWriter, r *http.Request) *httpError {
	slug := r.PathValue("slug")
	if e := checkSlug("slug", slug); e != nil {
		return e
	}
	var req PipelinePutRequest
	if e := decode(r, &req); e != nil {
		return e
	}
	if e := checkDefinition("definition", slug, req.Definition); e != nil {
		return e
	}
	res, e := s.importOne(r, "definition", slug, req.Definition)
	if e != nil {
		return e
	}
	noteAudit(r, slug, map[string]any{"version": res.Version, "changed": res.Changed, "hash": res.Hash})
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) pipelinesImport(w http.ResponseWriter, r *http.Request) *httpError {
	var req PipelineImportRequest
	if e := decode(r, &req); e != nil {
		return e
	}
	if len(req.Pipelines) == 0 {
		return errorf(http.StatusBadRequest, CodeInvalidArgument, "pipelines", "pipelines must list at least one pipeline")
	}
	seen := map[string]bool{}
	for i, p := range req.Pipelines {
		field := fmt.Sprintf("pipelines[%d]", i)
		if e := checkSlug(field+".slug", p.Slug); e != nil {
			return e
		}
		if seen[p.Slug] {
			return errorf(http.StatusBadRequest, CodeInvalidArgument, field+".slug", "pipeline %q is listed twice", p.Slug)
		}
		seen[p.Slug] = true
		if e := checkDefinition(field+".definition", p.Slug, p.Definition); e != nil {
			return e
		}
	}
	out := PipelineImportResponse{Pipelines: []PipelinePutResponse{}}
	var changed []string
	for i, p := range req.Pipelines {
		res, e := s.importOne(r, fmt.Sprintf("pipelines[%d].definition", i), p.Slug, p.Definition)
		if e != nil {
			return e
		}
		if res.Changed {
			changed = append(changed, p.Slug)
		}
		out.Pipelines = append(out.Pipelines, *res)
	}
	noteAudit(r, "", map[string]any{"changed": changed, "count": len(req.Pipelines)})
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) pipelinesValidate(w http.ResponseWriter, r *http.Request) *httpError {
	var req ValidateRequest
	if e := decode(r, &req); e != nil {
		return e
	}
	if len(bytes.TrimSpace(req.Definition)) == 0 || string(req.Definition) == "null" {
		return errorf(http.StatusBadRequest, CodeInvalidArgument, "definition", "definition is required")
	}
	_, probs := dag.Load("definition", req.Definition, nil)
	if probs == nil {
		probs = dag.Problems{}
	}
	writeJSON(w, http.StatusOK, ValidateResponse{Valid: !probs.HasErrors(), Problems: probs})
	return nil
}

func (s *Server) pipelinesGet(w http.ResponseWriter, r *http.Request) *httpError {
	slug := r.PathValue("slug")
	versions, err := s.cfg.Store.PipelineVersionList(r.Context(), slug)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return internal(err)
	}
	if len(versions) == 0 {
		return notFound("slug", "pipeline", slug)
	}
	want := 0
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return errorf(http.StatusBadRequest, CodeInvalidArgument, "version", "version must be a positive integer, not %q", v)
		}
		want = n
	}
	out := PipelineDetail{Versions: []Pipeline{}}
	var pick *state.PipelineVersion
	for i := range versions {
		pv := &versions[i]
		out.Versions = append(out.Versions, pipelineOf(pv, false))
		if (want == 0 && (pick == nil || pv.Version > pick.Version)) || pv.Version == want {
			pick = pv
		}
	}
	if pick == nil {
		return errorf(http.StatusNotFound, CodeNotFound, "version", "pipeline %q has no version %d", slug, want)
	}
	out.Pipeline = pipelineOf(pick, true)
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) pipelineVersionGet(w http.ResponseWriter, r *http.Request) *httpError {
	id := r.PathValue("id")
	pv, err := s.cfg.Store.PipelineVersionGet(r.Context(), id)
	if errors.Is(err, state.ErrNotFound) {
		return notFound("id", "pipeline version", id)
	}
	if err != nil {
		return internal(err)
	}
	writeJSON(w, http.StatusOK, pipelineOf(pv, true))
	return nil
}
