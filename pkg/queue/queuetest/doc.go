// Package queuetest is the conformance suite every queue.Broker backend
// passes.
//
// # Usage
//
// A backend's test calls [Exercise] with a constructor that returns a fresh,
// isolated broker (own stream, subject prefix or key prefix) and registers
// its cleanup:
//
//	func TestConformance(t *testing.T) {
//		t.Parallel()
//		queuetest.Exercise(t, func(t *testing.T) queue.Broker { return newTestBroker(t) })
//	}
//
// Every subtest runs in parallel with its own broker and queue names, and
// waits on deliveries rather than sleeping; the only fixed waits are the
// ack deadlines the subtests exercise and one short negative check.
//
// # Capabilities
//
// Behaviour that a backend may legitimately lack, such as priority
// ordering, is switched off with an [Option] (for example
// [WithoutPriority]) so the subtest is skipped, visibly, instead of failing.
package queuetest
