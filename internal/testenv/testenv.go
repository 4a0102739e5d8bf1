// Package testenv locates the real Postgres, Redis and NATS servers that the
// infrastructure tests talk to. On a developer machine without a server the
// test is skipped with a message saying how to point it at one; under CI=true
// a missing server fails the test, so CI can never pass by skipping.
package testenv

import (
	"context"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// Default URLs; the matching TEST_* environment variables override them.
const (
	DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
	DefaultNATSURL     = "nats://127.0.0.1:4222"
)

// DatabaseURL returns the Postgres URL for tests, or skips/fails t when the
// server cannot be reached.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	return need(t, "TEST_DATABASE_URL", DefaultDatabaseURL, "Postgres")
}

// RedisURL returns the Redis URL for tests, or skips/fails t when the server
// cannot be reached.
func RedisURL(t testing.TB) string {
	t.Helper()
	return need(t, "TEST_REDIS_URL", DefaultRedisURL, "Redis")
}

// NATSURL returns the URL of an external NATS server with JetStream, or
// skips/fails t when it cannot be reached.
func NATSURL(t testing.TB) string {
	t.Helper()
	return need(t, "TEST_NATS_URL", DefaultNATSURL, "NATS")
}

// InCI reports whether the tests run under CI, where missing services fail.
func InCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v != "" && v != "0" && v != "false"
}

// Name returns a short unique name for per-test namespaces (schemas, streams,
// key prefixes): lower-case letters, digits and underscores only.
func Name(prefix string) string {
	return prefix + "_" + strings.ReplaceAll(uuid.NewString()[:13], "-", "")
}

func need(t testing.TB, env, def, what string) string {
	t.Helper()
	raw := os.Getenv(env)
	if raw == "" {
		raw = def
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("testenv: %s=%q is not a URL: %v", env, raw, err)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), defaultPort(u.Scheme))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", host)
	if err != nil {
		msg := what + " is not reachable at " + host + " (" + err.Error() + "); start it or set " + env + " to its URL"
		if InCI() {
			t.Fatalf("testenv: %s (CI=true: a missing service is a failure)", msg)
		}
		t.Skipf("testenv: %s", msg)
	}
	_ = conn.Close()
	return raw
}

func defaultPort(scheme string) string {
	switch scheme {
	case "redis", "rediss":
		return "6379"
	case "nats", "tls":
		return "4222"
	default:
		return "5432"
	}
}
