// Package queue is the seam between the engine and its message brokers.
//
// # Model
//
// A [Broker] publishes [Message]s to named queues and delivers each message
// to one of the queue's subscribers (competing consumers). Delivery is at
// least once: a message that is not settled with Ack or Term before its ack
// deadline, or whose consumer dies, is delivered again. Publishing is
// de-duplicated by [Message.ID] within the broker's window, so a publisher
// that retries after a crash does not create a second delivery.
//
// # Backends
//
// Each backend lives in its own package and passes the shared conformance
// suite in queuetest: queuenats (NATS JetStream) and queueasynq (asynq on
// Redis). Open picks one by URL scheme.
package queue
