// Package statetest holds the conformance suites every state backend runs:
// [Exercise] for [state.Store] implementations and [ExerciseHot] for
// [state.Hot] implementations. A backend's tests call them with a
// constructor that gives each call an isolated store (own schema, own key
// prefix) and registers its cleanup on t.
package statetest
