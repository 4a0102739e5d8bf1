package statepg_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ia-modules/ia-go/internal/testenv"
	"github.com/ia-modules/ia-go/pkg/state"
	"github.com/ia-modules/ia-go/pkg/state/statepg"
	"github.com/ia-modules/ia-go/pkg/state/statetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testStore returns a store in its own fresh schema, dropped at cleanup.
func testStore(tb testing.TB) *statepg.Store {
	tb.Helper()
	url := testenv.DatabaseURL(tb)
	schema := testenv.Name("iatest")
	s, err := statepg.New(context.Background(), statepg.Config{
		URL: url, Schema: schema, MaxConns: 4,
		Logger: slog.New(slog.NewTextHandler(tLogWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	require.NoError(tb, err)
	tb.Cleanup(func() {
		_ = s.Close()
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return s
}

type tLogWriter struct{ tb testing.TB }

func (w tLogWriter) Write(p []byte) (int, error) {
	w.tb.Log(string(p))
	return len(p), nil
}

func TestStore(t *testing.T) {
	t.Parallel()
	statetest.Exercise(t, func(t *testing.T) state.Store { return testStore(t) })
}

func TestNewConcurrentMigrations(t *testing.T) {
	t.Parallel()
	url := testenv.DatabaseURL(t)
	schema := testenv.Name("iatest")
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), url)
		require.NoError(t, err)
		defer conn.Close(context.Background())
		_, err = conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+schema+` CASCADE`)
		require.NoError(t, err)
	})
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := statepg.New(t.Context(), statepg.Config{URL: url, Schema: schema, MaxConns: 2})
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		require.NoError(t, <-errs)
	}
	s, err := statepg.New(t.Context(), statepg.Config{URL: url, Schema: schema, MaxConns: 2})
	require.NoError(t, err)
	defer s.Close()
	var n int
	require.NoError(t, s.Pool().QueryRow(t.Context(), `SELECT count(*) FROM `+schema+`.schema_migrations`).Scan(&n))
	require.Equal(t, 4, n, "001_init, 002_auth, 003_fillfactor and 004_state_json")
	var opts []string
	require.NoError(t, s.Pool().QueryRow(t.Context(), `SELECT coalesce(reloptions, '{}') FROM pg_class
		WHERE oid = to_regclass($1)`, schema+".runs").Scan(&opts))
	require.Contains(t, opts, "fillfactor=50")
	var typ string
	require.NoError(t, s.Pool().QueryRow(t.Context(), `SELECT format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = to_regclass($1) AND attname = 'state'`, schema+".runs").Scan(&typ))
	require.Equal(t, "json", typ)
}

func TestNewConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  statepg.Config
	}{
		{"no URL", statepg.Config{}},
		{"bad schema", statepg.Config{URL: testenv.DefaultDatabaseURL, Schema: "drop table; --"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := statepg.New(t.Context(), tt.cfg)
			require.Error(t, err)
		})
	}
}

// BenchmarkRunUpdate measures the hot path: one guarded run update with one
// attempt upsert and one outbox message per op, from parallel goroutines on
// distinct runs.
func BenchmarkRunUpdate(b *testing.B) {
	s := testStore(b)
	ctx := context.Background()
	pv, _, err := s.PipelineVersionPut(ctx, &state.PipelineVersionPutParams{Slug: "bench", Hash: "h", Definition: json.RawMessage(`{}`)})
	require.NoError(b, err)
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		run, _, err := s.RunInsert(ctx, &state.RunInsertParams{Run: state.Run{PipelineVersionID: pv.ID, PipelineSlug: pv.Slug}})
		if err != nil {
			b.Error(err)
			return
		}
		version := run.Version
		i := 0
		for pb.Next() {
			i++
			r, err := s.RunUpdate(ctx, &state.RunUpdateParams{
				ID: run.ID, ExpectedVersion: version, Status: state.RunRunning,
				State:    json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)),
				Attempts: []state.StepAttempt{{StepID: "step", Iteration: i, Attempt: 1, Status: "running"}},
				Outbox:   []state.OutboxMessage{{Queue: "steps", MsgID: fmt.Sprintf("%s-%d", run.ID, i), Body: []byte(`{"step":"step"}`)}},
			})
			if err != nil {
				b.Error(err)
				return
			}
			version = r.Version
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}
