package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/state"
)

// TestRateLimitPerToken: a token over its budget gets 429 with Retry-After
// and a JSON error, while another token is unaffected.
func TestRateLimitPerToken(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{rateLimit: 0.5, rateBurst: 2})
	for range 2 {
		code, _, _ := b.do(t, state.RoleProducer, http.MethodGet, "/v1/runs", "")
		require.Equal(t, http.StatusOK, code)
	}
	code, body, hdr := b.do(t, state.RoleProducer, http.MethodGet, "/v1/runs", "")
	require.Equal(t, http.StatusTooManyRequests, code)
	require.NotEmpty(t, hdr.Get("Retry-After"))
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	require.NoError(t, json.Unmarshal(body, &e), string(body))
	require.NotEmpty(t, e.Error.Code)
	code, _, _ = b.do(t, state.RoleOperator, http.MethodGet, "/v1/runs", "")
	require.Equal(t, http.StatusOK, code, "limits are per token")
}

// TestCORSOffByDefault: no cross-origin headers unless origins are allowed.
func TestCORSOffByDefault(t *testing.T) {
	t.Parallel()
	b := setup(t)
	code, _, hdr := b.do(t, state.RoleProducer, http.MethodGet, "/v1/runs", "", "Origin", "https://evil.example")
	require.Equal(t, http.StatusOK, code)
	require.Empty(t, hdr.Get("Access-Control-Allow-Origin"))
}
