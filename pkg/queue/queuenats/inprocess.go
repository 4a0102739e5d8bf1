package queuenats

import (
	"fmt"

	"github.com/nats-io/nats.go"
)

// Connect opens a client connection to the embedded server through an
// in-memory pipe instead of loopback TCP: no socket syscalls on the hot
// path, which is most of a one-process engine's broker cost. Pass it as
// Config.Conn; the caller closes it after the broker.
func (e *EmbeddedServer) Connect(name string) (*nats.Conn, error) {
	nc, err := nats.Connect("", nats.Name(name), nats.InProcessServer(e.s), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("queuenats: in-process connect: %w", err)
	}
	return nc, nil
}
