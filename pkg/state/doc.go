// Package state is the seam between the engine and its storage.
//
// # Durable truth
//
// [Store] holds pipeline versions, runs, step attempts, the transactional
// outbox, human tasks and blobs. Every scheduler decision is one
// [Store.RunUpdate], guarded by the run's version: a writer holding a stale
// version gets [ErrConflict] and nothing is written. Stores that can also
// commit several decisions in one transaction implement [BatchUpdater], and
// those that can add new runs to such a group [BatchWriter]. Backends:
// statepg (Postgres) and statesqlite (embedded).
//
// # Hot state
//
// [Hot] holds what may be lost and rebuilt: idempotency claims, shared rate
// limits, fenced locks and live run events. Backends: stateredis and statemem
// (in process).
//
// # Conformance
//
// statetest.Exercise and statetest.ExerciseHot are the executable contract;
// every backend runs them, and the optional capabilities' suites
// (ExerciseBatch, ExerciseBatchWriter) where it has them.
package state
