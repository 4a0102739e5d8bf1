// Package jsonx encodes the dynamic JSON values that flow through the engine
// (step outputs and inputs decoded into map[string]any, []any, strings,
// float64s, booleans and nil) without reflection, byte for byte as
// encoding/json does: sorted object keys, HTML-safe strings, the same float
// formatting. Values of any other type are handed to encoding/json.
//
// The scheduler encodes a task and a run state per decision; reflection
// over nested maps was most of that cost.
package jsonx
