package dag

import (
	_ "embed" // for the pipeline JSON Schema
	"slices"
)

//go:embed pipeline.schema.json
var pipelineSchema []byte

// JSONSchema returns the JSON Schema (draft 2020-12) of pipeline documents:
// the union of the dialects Parse accepts, for editors and other tools. It
// checks shapes and types only; Load also checks the graph (step references,
// reachability, loops, templates). docs/pipeline.schema.json is a copy.
func JSONSchema() []byte {
	// A copy, so no caller can change what the next one gets.
	return slices.Clone(pipelineSchema)
}
