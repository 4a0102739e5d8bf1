package worker

import (
	"context"
	"log/slog"
)

// taskHandler gives each record a task's run_id, step_id, iteration and
// attempt when the record is handled. Logger.With would format them for
// every task, and most tasks log nothing.
type taskHandler struct {
	inner              slog.Handler
	runID, stepID      string
	iteration, attempt int
}

// taskLogger returns w's logger for the attempt t.
func (w *Worker) taskLogger(t *Task) *slog.Logger {
	return slog.New(&taskHandler{inner: w.log.Handler(), runID: t.RunID, stepID: t.StepID, iteration: t.Iteration, attempt: t.Attempt})
}

func (h *taskHandler) attrs() []slog.Attr {
	return []slog.Attr{slog.String("run_id", h.runID), slog.String("step_id", h.stepID),
		slog.Int("iteration", h.iteration), slog.Int("attempt", h.attempt)}
}

func (h *taskHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

func (h *taskHandler) Handle(ctx context.Context, r slog.Record) error {
	// The task's attributes first, as Logger.With would place them.
	nr := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	nr.AddAttrs(h.attrs()...)
	r.Attrs(func(a slog.Attr) bool {
		nr.AddAttrs(a)
		return true
	})
	return h.inner.Handle(ctx, nr)
}

func (h *taskHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return h.inner.WithAttrs(h.attrs()).WithAttrs(as)
}

func (h *taskHandler) WithGroup(name string) slog.Handler {
	return h.inner.WithAttrs(h.attrs()).WithGroup(name)
}
