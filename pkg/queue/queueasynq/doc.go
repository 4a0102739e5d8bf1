// Package queueasynq is the asynq (Redis) backend of package queue.
//
// # Layout
//
// Queue q with [Config.Prefix] p is the asynq queue "p:q", plus "p:q:high"
// and "p:q:low" for the other priorities. Each subscription is an asynq
// server on those three queues with strict priority, so a high-priority task
// is always taken before a normal one, and a normal one before a low one.
// Subscriptions compete for tasks.
//
// # Delivery
//
// Publish enqueues with asynq.TaskID set to Message.ID and asynq.Retention
// set to [Config.DuplicateWindow]: while a task with that ID is queued,
// running or retained after settlement, a repeat is dropped
// (ErrTaskIDConflict counts as success). IDs are unique per asynq queue, so
// the same ID at two priorities is two tasks.
//
// The engine owns retries, so asynq's retry machinery is only used as the
// mechanism: Ack makes the asynq handler return nil; Term returns
// asynq.SkipRetry (the task is archived); Nak returns an error whose delay
// the RetryDelayFunc reads. asynq stores retry times in whole seconds, so a
// Nak delay rounds down to a second, and a retried task is moved back to
// its queue every [Config.DelayedTaskCheckInterval]. MaxRetry is effectively
// unlimited so that a task whose worker crashed, which asynq's recoverer
// finds once its 30s lease lapses (checked every minute), is delivered
// again however often that happened. NumDelivered is asynq's retry count
// plus one.
//
// asynq has no ack deadline, so the subscription enforces AckWait itself:
// an unsettled delivery is handed back at AckWait and redelivered, and
// InProgress restarts that clock. asynq keeps its own lease alive while the
// handler runs, so InProgress sends nothing to Redis.
//
// # Latency
//
// asynq polls: an idle subscriber checks its queues every
// [Config.TaskCheckInterval] (asynq sleeps between half and one and a half
// times it). With the default 5ms, a message published to an idle queue
// waits about 5ms on average, 7.5ms at worst, before a handler sees it; a
// busy subscriber dequeues the next task as soon as a worker is free, with
// no wait. asynq's own default is 1s; 5ms costs an idle subscriber about 200
// cheap Redis calls a second, which is the price of step-to-step latency
// in the engine. Raise it for many idle subscribers on a shared Redis.
package queueasynq
