package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOpenAPIMatchesRouter walks the OpenAPI document and the router both
// ways: every documented operation routes to exactly its pattern, and every
// registered pattern is documented.
func TestOpenAPIMatchesRouter(t *testing.T) {
	t.Parallel()
	s := &Server{mux: http.NewServeMux()}
	s.routes = s.routeTable()
	for _, rt := range s.routes {
		s.mux.Handle(rt.method+" "+rt.path, http.NotFoundHandler())
	}
	raw, err := json.Marshal(s.OpenAPI())
	require.NoError(t, err)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."))

	param := regexp.MustCompile(`\{[a-z_]+\}`)
	var documented []string
	for path, item := range doc.Paths {
		for method := range item {
			m := strings.ToUpper(method)
			documented = append(documented, m+" "+path)
			req := httptest.NewRequest(m, param.ReplaceAllString(path, "x1"), nil)
			_, pattern := s.mux.Handler(req)
			require.Equal(t, m+" "+path, pattern, "documented %s %s does not route to itself", m, path)
		}
	}
	var registered []string
	for _, rt := range s.routes {
		registered = append(registered, rt.method+" "+rt.path)
	}
	slices.Sort(documented)
	slices.Sort(registered)
	require.Equal(t, registered, documented)
}
