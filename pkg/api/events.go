package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ia-modules/ia-go/pkg/state"
)

// replayBatch is how many retained events one EventsSince call returns.
const replayBatch = 500

func (s *Server) runEvents(w http.ResponseWriter, r *http.Request) *httpError {
	run, e := s.loadRun(r)
	if e != nil {
		return e
	}
	return s.stream(w, r, run.ID, true)
}

func (s *Server) allEvents(w http.ResponseWriter, r *http.Request) *httpError {
	return s.stream(w, r, "", false)
}

// stream sends runID's events ("" for all runs) as Server-Sent Events. With
// Last-Event-ID it resumes after that Seq; without it a run's stream replays
// every retained event and the global stream starts live. It subscribes
// before replaying and skips live events already replayed, so nothing falls
// in between.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, runID string, replayAll bool) *httpError {
	after := int64(-1)
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return errorf(http.StatusBadRequest, CodeInvalidArgument, "Last-Event-ID", "Last-Event-ID must be a non-negative integer, not %q", v)
		}
		after = n
	} else if replayAll {
		after = 0
	}
	rc := http.NewResponseController(w)
	ctx := r.Context()
	live, stop, err := s.cfg.Hot.EventSubscribe(ctx, runID)
	if err != nil {
		return internal(fmt.Errorf("subscribe: %w", err))
	}
	defer stop()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, ": ok\n\n"); err != nil {
		return nil
	}
	last := after
	if after >= 0 {
		for {
			evs, err := s.cfg.Hot.EventsSince(ctx, runID, last, replayBatch)
			if err != nil {
				fmt.Fprintf(w, "event: error\ndata: %q\n\n", err.Error())
				_ = rc.Flush()
				return nil
			}
			for _, ev := range evs {
				if err := writeEvent(w, ev); err != nil {
					return nil
				}
				last = ev.Seq
			}
			if len(evs) < replayBatch {
				break
			}
		}
	}
	if err := rc.Flush(); err != nil {
		return nil
	}
	beat := time.NewTicker(s.cfg.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.done:
			return nil
		case <-beat.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
		case ev, ok := <-live:
			if !ok {
				return nil
			}
			if last >= 0 && ev.Seq <= last {
				continue
			}
			if err := writeEvent(w, ev); err != nil {
				return nil
			}
			last = ev.Seq
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}

func writeEvent(w http.ResponseWriter, ev state.Event) error {
	data, err := json.Marshal(Event{Seq: ev.Seq, RunID: ev.RunID, StepID: ev.StepID, Type: ev.Type, Data: nullRaw(ev.Data), At: ev.At})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, ev.Type, data)
	return err
}
