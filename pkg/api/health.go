package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/ia-modules/ia-go/pkg/queue"
	"github.com/ia-modules/ia-go/pkg/state"
)

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) *httpError {
	writeJSON(w, http.StatusOK, Health{Status: "ok"})
	return nil
}

// readyz checks that the store, the hot state and (when configured) the
// broker answer within 2s.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) *httpError {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	ok := true
	check := func(name string, err error) {
		if err != nil {
			checks[name], ok = err.Error(), false
			return
		}
		checks[name] = "ok"
	}
	_, err := s.cfg.Store.PipelineVersionGet(ctx, "readyz-probe")
	if errors.Is(err, state.ErrNotFound) {
		err = nil
	}
	check("store", err)
	_, err = s.cfg.Hot.EventsSince(ctx, "readyz-probe", 0, 1)
	check("hot", err)
	if s.cfg.Broker != nil {
		_, err = s.cfg.Broker.Stats(ctx, queue.EventsQueue)
		check("broker", err)
	}
	status, code := "ok", http.StatusOK
	if !ok {
		status, code = "unavailable", http.StatusServiceUnavailable
	}
	writeJSON(w, code, Health{Status: status, Checks: checks})
	return nil
}
