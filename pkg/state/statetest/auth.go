package statetest

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/state"
)

// NewAuthFunc returns a fresh, isolated Auth and registers its cleanup.
type NewAuthFunc func(t *testing.T) state.Auth

// ExerciseAuth runs the Auth conformance suite (tokens and audit log).
func ExerciseAuth(t *testing.T, newAuth NewAuthFunc) {
	t.Helper()

	t.Run("Token", func(t *testing.T) {
		t.Parallel()
		a := newAuth(t)
		ctx := t.Context()

		tok, err := a.TokenCreate(ctx, &state.TokenCreateParams{Name: "alice", Role: state.RoleAdmin, Hash: "h-alice", CreatedBy: "bootstrap"})
		require.NoError(t, err)
		require.NotEmpty(t, tok.ID)
		require.Equal(t, "alice", tok.Name)
		require.Equal(t, state.RoleAdmin, tok.Role)
		require.Equal(t, "bootstrap", tok.CreatedBy)
		require.Nil(t, tok.RevokedAt)
		require.False(t, tok.CreatedAt.IsZero())

		_, err = a.TokenCreate(ctx, &state.TokenCreateParams{Name: "dup", Role: state.RoleProducer, Hash: "h-alice"})
		require.ErrorIs(t, err, state.ErrConflict)

		got, err := a.TokenGet(ctx, "h-alice")
		require.NoError(t, err)
		require.Equal(t, tok.ID, got.ID)
		require.True(t, tok.CreatedAt.Equal(got.CreatedAt))

		_, err = a.TokenGet(ctx, "nope")
		require.ErrorIs(t, err, state.ErrNotFound)

		bob, err := a.TokenCreate(ctx, &state.TokenCreateParams{ID: "bob-id", Name: "bob", Role: state.RoleReviewer, Hash: "h-bob"})
		require.NoError(t, err)
		require.Equal(t, "bob-id", bob.ID)

		list, err := a.TokenList(ctx, &state.TokenListParams{})
		require.NoError(t, err)
		require.Len(t, list, 2)

		rev, err := a.TokenRevoke(ctx, bob.ID)
		require.NoError(t, err)
		require.NotNil(t, rev.RevokedAt)
		again, err := a.TokenRevoke(ctx, bob.ID)
		require.NoError(t, err)
		require.True(t, rev.RevokedAt.Equal(*again.RevokedAt), "a second revoke keeps the first time")

		_, err = a.TokenRevoke(ctx, "missing")
		require.ErrorIs(t, err, state.ErrNotFound)

		got, err = a.TokenGet(ctx, "h-bob")
		require.NoError(t, err)
		require.NotNil(t, got.RevokedAt, "TokenGet returns revoked tokens so callers can tell why they fail")

		list, err = a.TokenList(ctx, &state.TokenListParams{})
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, "alice", list[0].Name)
		list, err = a.TokenList(ctx, &state.TokenListParams{IncludeRevoked: true})
		require.NoError(t, err)
		require.Len(t, list, 2)
	})

	t.Run("Audit", func(t *testing.T) {
		t.Parallel()
		a := newAuth(t)
		ctx := t.Context()

		entries := []state.AuditEntry{
			{Actor: "alice", Role: state.RoleProducer, Action: "runs.submit", Method: "POST", Path: "/v1/runs", Target: "r1", Status: 201,
				Details: json.RawMessage(`{"pipeline":"hello"}`)},
			{Actor: "bob", Role: state.RoleReviewer, Action: "human_tasks.decide", Method: "POST", Path: "/v1/human-tasks/t1/decision", Target: "t1", Status: 200},
			{Actor: "alice", Role: state.RoleProducer, Action: "runs.cancel", Method: "POST", Path: "/v1/runs/r1/cancel", Target: "r1", Status: 403},
		}
		for i := range entries {
			require.NoError(t, a.AuditInsert(ctx, &entries[i]))
		}

		all, err := a.AuditList(ctx, &state.AuditListParams{})
		require.NoError(t, err)
		require.Len(t, all, 3)
		require.Equal(t, "runs.cancel", all[0].Action, "newest first")
		require.Greater(t, all[0].ID, all[1].ID)
		require.False(t, all[0].At.IsZero())
		require.JSONEq(t, `{"pipeline":"hello"}`, string(all[2].Details))
		require.Empty(t, all[1].Details)
		require.Equal(t, 201, all[2].Status)

		tests := []struct {
			name string
			p    state.AuditListParams
			want int
		}{
			{"actor", state.AuditListParams{Actor: "alice"}, 2},
			{"action", state.AuditListParams{Action: "human_tasks.decide"}, 1},
			{"target", state.AuditListParams{Target: "r1"}, 2},
			{"actor and action", state.AuditListParams{Actor: "alice", Action: "runs.submit"}, 1},
			{"limit", state.AuditListParams{Limit: 1}, 1},
			{"none", state.AuditListParams{Actor: "carol"}, 0},
		}
		for _, tt := range tests {
			got, err := a.AuditList(ctx, &tt.p)
			require.NoError(t, err, tt.name)
			require.Len(t, got, tt.want, tt.name)
		}
	})
}
