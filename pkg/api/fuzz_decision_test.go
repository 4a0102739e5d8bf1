package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/api"
)

// FuzzValidateDecision checks that ValidateDecision never panics, that every
// rejection names the decision or one of its fields, and that an accepted
// decision is a JSON object whose keys are all form fields.
func FuzzValidateDecision(f *testing.F) {
	f.Add(`{"fields":[{"name":"decision","type":"radio","required":true,"options":[{"value":"approve"},{"value":"reject"}]}]}`, `{"decision":"approve"}`)
	f.Add(`{"fields":[{"name":"c","type":"checkbox","options":["a","b"]}]}`, `{"c":["a","b"]}`)
	f.Add(`{"fields":[{"name":"n","type":"number"}]}`, `{"n":1.5}`)
	f.Add(``, `{"response":"ok"}`)
	f.Add(`null`, `{"response":""}`)
	f.Add(`{"fields":"x"}`, `{}`)
	f.Fuzz(func(t *testing.T, schema, decision string) {
		fe := api.ValidateDecision(json.RawMessage(schema), json.RawMessage(decision))
		if fe != nil {
			require.True(t, fe.Field == "decision" || strings.HasPrefix(fe.Field, "decision."), fe.Field)
			require.NotEmpty(t, fe.Message)
			return
		}
		var obj map[string]any
		require.NoError(t, json.Unmarshal([]byte(decision), &obj), "accepted a non-object %q", decision)
		var s struct {
			Fields []struct {
				Name string `json:"name"`
			} `json:"fields"`
		}
		_ = json.Unmarshal([]byte(schema), &s)
		names := map[string]bool{}
		for _, fl := range s.Fields {
			names[fl.Name] = true
		}
		if len(s.Fields) == 0 {
			names["response"] = true
		}
		for k := range obj {
			require.True(t, names[k], "accepted unknown field %q", k)
		}
	})
}

func TestValidateDecision(t *testing.T) {
	t.Parallel()
	form := `{"fields":[{"name":"d","type":"radio","required":true,"options":["yes","no"]},{"name":"tags","type":"checkbox","options":[{"value":"a"},{"value":"b"}]},{"name":"ok","type":"checkbox"},{"name":"n","type":"number"}]}`
	tests := []struct {
		name, schema, decision, field string
	}{
		{"valid", form, `{"d":"yes","tags":["a"],"ok":false,"n":3}`, ""},
		{"required missing", form, `{"tags":["a"]}`, "decision.d"},
		{"bad option", form, `{"d":"maybe"}`, "decision.d"},
		{"bad checkbox option", form, `{"d":"no","tags":["c"]}`, "decision.tags"},
		{"checkbox not bool", form, `{"d":"no","ok":1}`, "decision.ok"},
		{"number not number", form, `{"d":"no","n":"3"}`, "decision.n"},
		{"unknown", form, `{"d":"no","x":1}`, "decision.x"},
		{"not object", form, `[1]`, "decision"},
		{"default form ok", ``, `{"response":"fine"}`, ""},
		{"default form requires response", `{"type":"form"}`, `{}`, "decision.response"},
		{"bad schema", `{"fields":3}`, `{}`, "decision"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fe := api.ValidateDecision(json.RawMessage(tt.schema), json.RawMessage(tt.decision))
			if tt.field == "" {
				require.Nil(t, fe)
				return
			}
			require.NotNil(t, fe)
			require.Equal(t, tt.field, fe.Field)
		})
	}
}
