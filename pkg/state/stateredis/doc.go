// Package stateredis implements [state.Hot] on Redis: idempotency claims
// (SET NX), a shared token-bucket rate limiter and fenced locks (small Lua
// scripts, atomic on the server), and live run events on Redis Streams.
//
// # Keys
//
// Every key starts with "{" + Config.Prefix + "}", a hash tag, so all keys of
// one deployment share a slot and the scripts that touch several keys also
// work on Redis Cluster.
//
// # Events
//
// Each event is appended (XADD with MAXLEN ~) to a global stream and to a
// per-run stream that expires after Config.RunEventsTTL of silence. Stream IDs
// are "0-<seq>", so the sequence number is the ID itself and EventsSince is a
// plain XRANGE. Subscriptions use XREAD BLOCK from the last ID at subscribe
// time, so nothing published after EventSubscribe returns is missed.
package stateredis
