package queuetest_test

import (
	"testing"

	"github.com/ia-modules/ia-go/pkg/queue"
	"github.com/ia-modules/ia-go/pkg/queue/queuetest"
)

// newTestBroker stands in for a backend's constructor: it must return a
// broker isolated from every other call and close it at t.Cleanup.
func newTestBroker(t *testing.T) queue.Broker {
	t.Helper()
	t.Skip("stands in for a real backend")
	return nil
}

// ExampleExercise shows a backend's conformance test. The body is what goes
// in the backend's TestConformance function.
func ExampleExercise() {
	_ = func(t *testing.T) {
		t.Parallel()
		queuetest.Exercise(t, newTestBroker, queuetest.WithoutPriority())
	}
}
