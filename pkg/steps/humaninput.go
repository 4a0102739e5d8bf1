package steps

// StatusHumanInputRequired is the "status" value with which a step asks for
// a human: a handler returns an Output whose Data is a map with
// "status": "human_input_required" (and optionally "prompt", "ui_schema",
// "timeout_seconds", "channels", "assigned_users"). The engine then pauses
// the step's branch instead of merging the map; the human's answer becomes
// the step's output. This is the reference engine's only pause trigger, so
// Python steps use it unchanged.
const StatusHumanInputRequired = "human_input_required"

// HumanInputRequest is sugar for building a pausing output from Go.
type HumanInputRequest struct {
	Prompt         string         `json:"prompt,omitempty"`
	UISchema       map[string]any `json:"ui_schema,omitempty"`
	TimeoutSeconds int            `json:"timeout_seconds,omitempty"`
	Channels       []string       `json:"channels,omitempty"`
	AssignedUsers  []string       `json:"assigned_users,omitempty"`
}

// RequestHumanInput returns the Output that pauses the branch for a human.
func RequestHumanInput(req HumanInputRequest) *Output {
	m := map[string]any{"status": StatusHumanInputRequired}
	if req.Prompt != "" {
		m["prompt"] = req.Prompt
	}
	if req.UISchema != nil {
		m["ui_schema"] = req.UISchema
	}
	if req.TimeoutSeconds > 0 {
		m["timeout_seconds"] = req.TimeoutSeconds
	}
	if len(req.Channels) > 0 {
		m["channels"] = req.Channels
	}
	if len(req.AssignedUsers) > 0 {
		m["assigned_users"] = req.AssignedUsers
	}
	return &Output{Data: m}
}

// HumanInputRequired reports whether out asks to pause for a human.
func HumanInputRequired(out *Output) bool {
	if out == nil {
		return false
	}
	m, ok := out.Data.(map[string]any)
	if !ok {
		return false
	}
	s, _ := m["status"].(string)
	return s == StatusHumanInputRequired
}
