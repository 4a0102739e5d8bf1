// Package queuenats is the NATS JetStream backend of package queue.
//
// # Layout
//
// One work-queue stream per [Config.Prefix] (retention WorkQueue, file
// storage), named "<prefix>_q" and bound to the subjects "<prefix>.q.>".
// Queue q is the subject "<prefix>.q.<q>" with one durable pull consumer,
// "<prefix>_q_<q>", shared by every subscriber of q, so subscribers compete
// for messages and a message leaves the stream when it is acked or termed.
//
// # Delivery
//
// Publish waits for the stream's acknowledgement and sets Nats-Msg-Id to
// Message.ID, so the server drops a repeat within [Config.DuplicateWindow].
// A subscriber pulls (Consumer.Fetch) as many messages as it has idle
// handlers, one pull request at a time. A pull request is answered as soon
// as a message is stored, so a message reaches an idle subscriber with no
// polling; on loopback the publish-to-handler hop takes a couple of hundred
// microseconds (BenchmarkHop). A subscriber thus holds no message beyond
// those its handlers are working on; the handlers run on Concurrency
// long-lived goroutines. Pull requests expire after 5s and carry
// heartbeats, so a request the server dropped stalls delivery for a few
// seconds at most.
//
// Ack does not wait for the server's confirmation: an ack lost with a
// dropped connection means one more delivery after AckWait, which
// at-least-once consumers tolerate anyway. Nak maps to Nak or NakWithDelay,
// Term to Term and InProgress to a +WPI heartbeat that restarts the
// consumer's AckWait. MaxDeliver is unlimited: the engine owns retries.
//
// # Priority
//
// JetStream delivers a consumer's messages in stream order, and emulating
// priority with a consumer per priority would leave prefetched low-priority
// messages ageing towards their AckWait behind high-priority traffic. So
// Message.Priority is carried (header Ia-Priority) but ignored for
// ordering; the conformance suite runs with queuetest.WithoutPriority.
//
// # Direct lane
//
// [Broker.ServeDirect] and [Broker.RequestDirect] are core NATS
// request-reply on "<prefix>.direct.<name>": no stream, no storage, an
// answer or an error within the requester's deadline, and
// queue.ErrNoReceiver at once when nothing serves the name. The scheduler
// uses it to hand a completion on to the scheduler holding its run.
//
// # Embedded server
//
// [StartEmbedded] runs nats-server with JetStream in process, for a single
// binary (ia run) and for tests.
package queuenats
