// Package crashtest holds the multi-process crash test of the engine: two
// schedulers and three workers run as separate OS processes against
// Postgres, Redis and a private broker (JetStream, or asynq on a private
// Redis) while a chaos loop SIGKILLs and restarts them every 100-300 ms and
// the broker server is restarted once. It checks the promises of
// docs/guarantees.md: every run finishes with the right result, no step's
// successors start twice, no run is lost or stuck.
//
//	go test ./internal/crashtest -run Crash -v -timeout 15m
//
// The test builds the scheduler, the test worker (testworker, the standard
// worker plus a "record" step that logs each execution in Postgres) and
// nats-server into a temporary directory. It is skipped under -short.
package crashtest
