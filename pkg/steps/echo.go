package steps

import (
	"context"
	"maps"
)

// Echo returns the "echo" handler: it outputs a copy of in.Data, or only the
// keys listed in config.fields (missing keys are left out).
func Echo() Handler {
	return HandlerFunc(func(_ context.Context, in *Input) (*Output, error) {
		fields, ok, err := configStrings(in.Config, "fields")
		if err != nil {
			return nil, NonRetryable(err)
		}
		if !ok {
			// Copy, so the engine's later merge cannot alias our input.
			out := maps.Clone(in.Data)
			if out == nil {
				out = map[string]any{}
			}
			return &Output{Data: out}, nil
		}
		out := make(map[string]any, len(fields))
		for _, f := range fields {
			if v, ok := in.Data[f]; ok {
				out[f] = v
			}
		}
		return &Output{Data: out}, nil
	})
}
