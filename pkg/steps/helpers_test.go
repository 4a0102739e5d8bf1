package steps_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
)

// recorder is a slog.Handler that logs through t.Log and keeps the "line"
// attrs of stderr records; lineSeen is closed on the first line equal to
// waitFor, so tests can react to a subprocess's progress without sleeping.
type recorder struct {
	t        testing.TB
	mu       *sync.Mutex
	lines    *[]string
	levels   *[]slog.Level
	waitFor  string
	lineSeen chan struct{}
	once     *sync.Once
}

func newRecorder(t testing.TB, waitFor string) *recorder {
	return &recorder{
		t: t, mu: &sync.Mutex{}, lines: new([]string), levels: new([]slog.Level),
		waitFor: waitFor, lineSeen: make(chan struct{}), once: &sync.Once{},
	}
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.t.Log(rec.Level, rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key != "line" {
			return true
		}
		line := a.Value.String()
		r.mu.Lock()
		*r.lines = append(*r.lines, line)
		*r.levels = append(*r.levels, rec.Level)
		r.mu.Unlock()
		if r.waitFor != "" && line == r.waitFor {
			r.once.Do(func() { close(r.lineSeen) })
		}
		return true
	})
	return nil
}

func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

func (r *recorder) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), *r.lines...)
}

func (r *recorder) Logger() *slog.Logger { return slog.New(r) }
