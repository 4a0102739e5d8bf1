// Package api serves the engine over HTTP: pipelines, runs, human tasks,
// live events (Server-Sent Events), API tokens and the audit log, under /v1,
// with an OpenAPI 3 document at /v1/openapi.json generated from the same
// route table the router is built from.
//
// # Access control
//
// Every /v1 route except the OpenAPI document needs an API token
// (Authorization: Bearer ia_...). A token has one role:
//
//   - producer: submit runs, read its own runs and their events;
//   - reviewer: list, read and decide human tasks (when an assignee);
//   - operator: cancel, resume and retry runs, manage pipelines, read all
//     runs, events and human tasks;
//   - admin: everything, plus tokens and the audit log.
//
// Every mutating request (allowed or not) is written to the audit log. Each
// token is rate limited through [state.Hot.RateLimitAllow]; a request over
// the limit gets 429 with Retry-After.
//
// # Errors
//
// Every error is JSON: {"error": {"code", "message", "field"}}, where field
// names the offending request field when there is one. Bad input never
// changes state.
package api
