package api_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/api"
	"github.com/ia-modules/ia-go/pkg/state"
)

// TestBadInput sends malformed, mistyped, oversize and invalid requests and
// checks the status, the error body (code and field) and that nothing
// changed: run count, pipeline versions, the pending human task, tokens.
func TestBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{rateLimit: -1, maxBody: 64 << 10})
	ctx := context.Background()
	run := b.submit(t, state.RoleProducer, "review", map[string]any{"topic": "x"})
	task := b.waitTask(t, run.ID, nil)
	helloDef, err := os.ReadFile("testdata/hello.json")
	require.NoError(t, err)

	type snapshot struct {
		runs, versions, tokens int
		taskStatus             string
		decisions              int
	}
	snap := func(t *testing.T) snapshot {
		t.Helper()
		var s snapshot
		s.runs = b.runCount(t)
		for _, slug := range []string{"hello", "review", "brand-new"} {
			vs, err := b.store.PipelineVersionList(ctx, slug)
			if err == nil {
				s.versions += len(vs)
			}
		}
		toks, err := b.auth.TokenList(ctx, &state.TokenListParams{IncludeRevoked: true})
		require.NoError(t, err)
		s.tokens = len(toks)
		h, err := b.store.HumanTaskGet(ctx, task.ID)
		require.NoError(t, err)
		s.taskStatus, s.decisions = h.Status, len(h.Decisions)
		return s
	}
	before := snap(t)

	big := `{"pipeline":"hello","input":{"topic":"` + strings.Repeat("x", 70<<10) + `"}}`
	decide := "/v1/human-tasks/" + task.ID + "/decision"
	brokenDef := `{"steps":[{"id":"a","step_class":"echo"}],"flow":{"start_at":"a","paths":[{"from":"a","to":"b"}]}}`
	p, rv, op, ad := state.RoleProducer, state.RoleReviewer, state.RoleOperator, state.RoleAdmin
	tests := []struct {
		name              string
		who, method, path string
		body              string
		hdr               []string
		status            int
		code, field       string
	}{
		{"submit: malformed JSON", p, "POST", "/v1/runs", `{"pipeline":`, nil, 400, api.CodeMalformedJSON, ""},
		{"submit: not JSON", p, "POST", "/v1/runs", `pipeline=hello`, nil, 400, api.CodeMalformedJSON, ""},
		{"submit: empty body", p, "POST", "/v1/runs", ``, nil, 400, api.CodeMalformedJSON, ""},
		{"submit: trailing data", p, "POST", "/v1/runs", `{"pipeline":"hello"} {}`, nil, 400, api.CodeMalformedJSON, ""},
		{"submit: array body", p, "POST", "/v1/runs", `[]`, nil, 400, api.CodeInvalidType, ""},
		{"submit: unknown field", p, "POST", "/v1/runs", `{"pipeline":"hello","inptu":{}}`, nil, 400, api.CodeUnknownField, "inptu"},
		{"submit: priority wrong type", p, "POST", "/v1/runs", `{"pipeline":"hello","priority":"high"}`, nil, 400, api.CodeInvalidType, "priority"},
		{"submit: pipeline wrong type", p, "POST", "/v1/runs", `{"pipeline":42}`, nil, 400, api.CodeInvalidType, "pipeline"},
		{"submit: priority out of range", p, "POST", "/v1/runs", `{"pipeline":"hello","priority":7,"input":{"topic":"x"}}`, nil, 400, api.CodeInvalidArgument, "priority"},
		{"submit: input not an object", p, "POST", "/v1/runs", `{"pipeline":"hello","input":[1]}`, nil, 400, api.CodeInvalidType, "input"},
		{"submit: no pipeline", p, "POST", "/v1/runs", `{"input":{"topic":"x"}}`, nil, 400, api.CodeInvalidArgument, "pipeline"},
		{"submit: both pipeline and version", p, "POST", "/v1/runs", `{"pipeline":"hello","pipeline_version_id":"x"}`, nil, 400, api.CodeInvalidArgument, "pipeline"},
		{"submit: unknown pipeline", p, "POST", "/v1/runs", `{"pipeline":"nope","input":{}}`, nil, 404, api.CodeNotFound, "pipeline"},
		{"submit: unknown version", p, "POST", "/v1/runs", `{"pipeline_version_id":"00000000-0000-0000-0000-000000000000"}`, nil, 404, api.CodeNotFound, "pipeline_version_id"},
		{"submit: missing required parameter", p, "POST", "/v1/runs", `{"pipeline":"hello","input":{}}`, nil, 422, api.CodeInvalidInput, "input"},
		{"submit: oversize body", p, "POST", "/v1/runs", big, nil, 413, api.CodeBodyTooLarge, ""},
		{"submit: key header differs from body", p, "POST", "/v1/runs", `{"pipeline":"hello","input":{"topic":"x"},"idempotency_key":"a"}`, []string{"Idempotency-Key", "b"}, 400, api.CodeInvalidArgument, "idempotency_key"},
		{"runs: unknown id", op, "GET", "/v1/runs/does-not-exist", ``, nil, 404, api.CodeNotFound, "id"},
		{"runs: bad status filter", op, "GET", "/v1/runs?status=done", ``, nil, 400, api.CodeInvalidArgument, "status"},
		{"runs: bad since", op, "GET", "/v1/runs?since=yesterday", ``, nil, 400, api.CodeInvalidArgument, "since"},
		{"runs: bad limit", op, "GET", "/v1/runs?limit=0", ``, nil, 400, api.CodeInvalidArgument, "limit"},
		{"runs: bad cursor", op, "GET", "/v1/runs?cursor=%25%25", ``, nil, 400, api.CodeInvalidArgument, "cursor"},
		{"runs: cancel unknown", op, "POST", "/v1/runs/nope/cancel", ``, nil, 404, api.CodeNotFound, "id"},
		{"runs: cancel unknown field", op, "POST", "/v1/runs/" + run.ID + "/cancel", `{"why":"x"}`, nil, 400, api.CodeUnknownField, "why"},
		{"runs: resume a waiting run", op, "POST", "/v1/runs/" + run.ID + "/resume", ``, nil, 409, api.CodeConflict, "id"},
		{"runs: retry unknown step", op, "POST", "/v1/runs/" + run.ID + "/steps/nope/retry", ``, nil, 404, api.CodeNotFound, "step"},
		{"runs: retry a step that did not fail", op, "POST", "/v1/runs/" + run.ID + "/steps/draft/retry", ``, nil, 409, api.CodeConflict, "step"},
		{"events: bad Last-Event-ID", op, "GET", "/v1/events", ``, []string{"Last-Event-ID", "abc"}, 400, api.CodeInvalidArgument, "Last-Event-ID"},
		{"decide: unknown task", rv, "POST", "/v1/human-tasks/nope/decision", `{"decision":{"decision":"approve"}}`, nil, 404, api.CodeNotFound, "id"},
		{"decide: missing decision", rv, "POST", decide, `{}`, nil, 422, api.CodeInvalidDecision, "decision"},
		{"decide: decision not an object", rv, "POST", decide, `{"decision":"approve"}`, nil, 422, api.CodeInvalidDecision, "decision"},
		{"decide: unknown form field", rv, "POST", decide, `{"decision":{"decision":"approve","score":3}}`, nil, 422, api.CodeInvalidDecision, "decision.score"},
		{"decide: option not allowed", rv, "POST", decide, `{"decision":{"decision":"maybe"}}`, nil, 422, api.CodeInvalidDecision, "decision.decision"},
		{"decide: wrong type for radio", rv, "POST", decide, `{"decision":{"decision":true}}`, nil, 422, api.CodeInvalidDecision, "decision.decision"},
		{"decide: wrong type for textarea", rv, "POST", decide, `{"decision":{"decision":"approve","comment":5}}`, nil, 422, api.CodeInvalidDecision, "decision.comment"},
		{"decide: wrong type for checkbox", rv, "POST", decide, `{"decision":{"decision":"approve","urgent":"yes"}}`, nil, 422, api.CodeInvalidDecision, "decision.urgent"},
		{"decide: select option not allowed", rv, "POST", decide, `{"decision":{"decision":"approve","channel":"fax"}}`, nil, 422, api.CodeInvalidDecision, "decision.channel"},
		{"decide: required field missing", rv, "POST", decide, `{"decision":{"comment":"hm"}}`, nil, 422, api.CodeInvalidDecision, "decision.decision"},
		{"decide: required field empty", rv, "POST", decide, `{"decision":{"decision":""}}`, nil, 422, api.CodeInvalidDecision, "decision.decision"},
		{"decide: unknown request field", rv, "POST", decide, `{"decision":{"decision":"approve"},"by":"someone"}`, nil, 400, api.CodeUnknownField, "by"},
		{"human tasks: bad status filter", rv, "GET", "/v1/human-tasks?status=open", ``, nil, 400, api.CodeInvalidArgument, "status"},
		{"human tasks: unknown id", rv, "GET", "/v1/human-tasks/nope", ``, nil, 404, api.CodeNotFound, "id"},
		{"pipelines: invalid definition", op, "PUT", "/v1/pipelines/brand-new", `{"definition":` + brokenDef + `}`, nil, 422, api.CodeInvalidPipeline, "definition"},
		{"pipelines: definition not JSON object", op, "PUT", "/v1/pipelines/brand-new", `{"definition":"steps"}`, nil, 422, api.CodeInvalidPipeline, "definition"},
		{"pipelines: missing definition", op, "PUT", "/v1/pipelines/brand-new", `{}`, nil, 400, api.CodeInvalidArgument, "definition"},
		{"pipelines: bad slug", op, "PUT", "/v1/pipelines/-bad", `{"definition":` + string(helloDef) + `}`, nil, 400, api.CodeInvalidArgument, "slug"},
		{"pipelines: import one invalid of two", op, "POST", "/v1/pipelines/import",
			`{"pipelines":[{"slug":"brand-new","definition":` + string(helloDef) + `},{"slug":"b2","definition":` + brokenDef + `}]}`, nil, 422, api.CodeInvalidPipeline, "pipelines[1].definition"},
		{"pipelines: import duplicate slug", op, "POST", "/v1/pipelines/import",
			`{"pipelines":[{"slug":"brand-new","definition":` + string(helloDef) + `},{"slug":"brand-new","definition":` + string(helloDef) + `}]}`, nil, 400, api.CodeInvalidArgument, "pipelines[1].slug"},
		{"pipelines: import nothing", op, "POST", "/v1/pipelines/import", `{"pipelines":[]}`, nil, 400, api.CodeInvalidArgument, "pipelines"},
		{"pipelines: unknown slug", op, "GET", "/v1/pipelines/nope", ``, nil, 404, api.CodeNotFound, "slug"},
		{"pipelines: unknown version", op, "GET", "/v1/pipelines/hello?version=99", ``, nil, 404, api.CodeNotFound, "version"},
		{"pipelines: bad version", op, "GET", "/v1/pipelines/hello?version=x", ``, nil, 400, api.CodeInvalidArgument, "version"},
		{"validate: missing definition", op, "POST", "/v1/pipelines/validate", `{}`, nil, 400, api.CodeInvalidArgument, "definition"},
		{"tokens: unknown role", ad, "POST", "/v1/tokens", `{"name":"x","role":"root"}`, nil, 400, api.CodeInvalidArgument, "role"},
		{"tokens: bad name", ad, "POST", "/v1/tokens", `{"name":"two words","role":"admin"}`, nil, 400, api.CodeInvalidArgument, "name"},
		{"tokens: revoke unknown", ad, "DELETE", "/v1/tokens/nope", ``, nil, 404, api.CodeNotFound, "id"},
		{"route: unknown", ad, "GET", "/v1/nope", ``, nil, 404, api.CodeNotFound, ""},
		{"route: wrong method", ad, "DELETE", "/v1/runs", ``, nil, 405, api.CodeMethodNotAllow, ""},
		{"auth: malformed header", "not-a-token", "GET", "/v1/runs", ``, nil, 401, api.CodeUnauthenticated, "Authorization"},
	}
	require.GreaterOrEqual(t, len(tests), 30)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, raw, _ := b.do(t, tt.who, tt.method, tt.path, tt.body, tt.hdr...)
			require.Equal(t, tt.status, status, "body: %s", raw)
			e := decodeErr(t, raw)
			require.Equal(t, tt.code, e.Code, "body: %s", raw)
			require.Equal(t, tt.field, e.Field, "body: %s", raw)
			require.Equal(t, before, snap(t), "state changed")
		})
	}
	t.Run("validate returns problems without saving", func(t *testing.T) {
		status, raw, _ := b.do(t, op, "POST", "/v1/pipelines/validate", `{"definition":`+brokenDef+`}`)
		require.Equal(t, http.StatusOK, status, string(raw))
		require.Contains(t, string(raw), `"valid":false`)
		require.Contains(t, string(raw), "unknown step")
		require.Equal(t, before, snap(t))
	})
}
