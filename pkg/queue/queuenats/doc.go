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
// Subscribers use the streaming pull API (Consumer.Consume): a pull request
// is always outstanding, so a message reaches an idle subscriber as soon as
// it is stored, with no polling; on loopback the publish-to-handler hop
// takes a few hundred microseconds (BenchmarkHop). Each subscriber
// prefetches at most Concurrency messages beyond those it is handling, and
// pull requests expire after 2s so that a request the server left unfilled
// stalls delivery for at most that long.
//
// Ack waits for the server's confirmation (DoubleAck). Nak maps to Nak or
// NakWithDelay, Term to Term and InProgress to a +WPI heartbeat that restarts
// the consumer's AckWait. MaxDeliver is unlimited: the engine owns retries.
//
// # Priority
//
// JetStream delivers a consumer's messages in stream order, and emulating
// priority with a consumer per priority would leave prefetched low-priority
// messages ageing towards their AckWait behind high-priority traffic. So
// Message.Priority is carried (header Ia-Priority) but ignored for
// ordering; the conformance suite runs with queuetest.WithoutPriority.
//
// # Embedded server
//
// [StartEmbedded] runs nats-server with JetStream in process, for a single
// binary (ia run) and for tests.
package queuenats
