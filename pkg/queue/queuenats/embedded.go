package queuenats

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedConfig configures an in-process NATS server.
type EmbeddedConfig struct {
	// StoreDir is where JetStream keeps its files. Required.
	StoreDir string
	// Port to listen on, on 127.0.0.1. 0 or -1 picks a free port.
	Port int
}

// EmbeddedServer is an in-process nats-server with JetStream, for single
// binary deployments (ia run) and tests.
type EmbeddedServer struct {
	s *server.Server
}

// StartEmbedded starts the server and waits, within ctx, until it accepts
// connections.
func StartEmbedded(ctx context.Context, cfg EmbeddedConfig) (*EmbeddedServer, error) {
	if cfg.StoreDir == "" {
		return nil, fmt.Errorf("queuenats: embedded server needs a StoreDir")
	}
	port := cfg.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	s, err := server.NewServer(&server.Options{
		ServerName: "ia-embedded",
		Host:       "127.0.0.1",
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoSigs:     true,
		NoLog:      true,
	})
	if err != nil {
		return nil, fmt.Errorf("queuenats: embedded server: %w", err)
	}
	go s.Start()
	// ReadyForConnections has no ctx; poll it in short slices so ctx wins.
	for !s.ReadyForConnections(50 * time.Millisecond) {
		if err := ctx.Err(); err != nil {
			s.Shutdown()
			s.WaitForShutdown()
			return nil, fmt.Errorf("queuenats: embedded server not ready: %w", err)
		}
	}
	return &EmbeddedServer{s: s}, nil
}

// ClientURL is the nats:// URL clients connect to.
func (e *EmbeddedServer) ClientURL() string { return e.s.ClientURL() }

// Shutdown stops the server and waits until it has stopped.
func (e *EmbeddedServer) Shutdown() {
	e.s.Shutdown()
	e.s.WaitForShutdown()
}
