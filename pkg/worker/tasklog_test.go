package worker

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTaskLogger: a task's logger writes what Logger.With would, for every
// way a step uses its logger.
func TestTaskLogger(t *testing.T) {
	t.Parallel()
	task := &Task{RunID: "r1", StepID: "s1", Iteration: 2, Attempt: 3}
	uses := map[string]func(*slog.Logger){
		"plain":       func(l *slog.Logger) { l.Info("hello", "k", 1) },
		"with":        func(l *slog.Logger) { l.With("a", "b").Warn("w", "k", 2) },
		"group":       func(l *slog.Logger) { l.WithGroup("g").Error("e", "k", 3) },
		"empty group": func(l *slog.Logger) { l.WithGroup("g").Info("nothing in it") },
		"attrs": func(l *slog.Logger) {
			l.LogAttrs(context.Background(), slog.LevelInfo, "la", slog.Group("grp", "x", 1))
		},
		"disabled": func(l *slog.Logger) { l.Debug("not shown") },
	}
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	for name, use := range uses {
		for _, format := range []string{"text", "json"} {
			t.Run(name+"/"+format, func(t *testing.T) {
				t.Parallel()
				var want, got bytes.Buffer
				handler := func(b *bytes.Buffer) slog.Handler {
					if format == "json" {
						return slog.NewJSONHandler(b, &slog.HandlerOptions{ReplaceAttr: noTime})
					}
					return slog.NewTextHandler(b, &slog.HandlerOptions{ReplaceAttr: noTime})
				}
				base := slog.New(handler(&want)).With("component", "worker")
				use(base.With("run_id", task.RunID, "step_id", task.StepID, "iteration", task.Iteration, "attempt", task.Attempt))
				w := &Worker{log: slog.New(handler(&got)).With("component", "worker")}
				use(w.taskLogger(task))
				require.Equal(t, want.String(), got.String())
			})
		}
	}
}
