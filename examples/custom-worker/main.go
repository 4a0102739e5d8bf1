// Command custom-worker is a worker binary with your own Go steps: register
// handlers by the step_class your pipelines use, then hand over to the
// standard worker process (flags, /metrics, /healthz, graceful shutdown).
//
//	go run ./examples/custom-worker -database-url postgres://... -queue-url nats://127.0.0.1:4222
package main

import (
	"context"
	"os"
	"strings"

	"github.com/ia-modules/ia-go/pkg/service"
	"github.com/ia-modules/ia-go/pkg/steps"
)

type shoutIn struct {
	Text string `json:"text"`
}

type shoutOut struct {
	Shouted string `json:"shouted"`
}

func main() {
	reg := steps.Builtins()
	reg.Register("shout", steps.Typed(func(ctx context.Context, in *steps.Input, args shoutIn) (shoutOut, error) {
		return shoutOut{Shouted: strings.ToUpper(args.Text) + "!"}, nil
	}))
	os.Exit(service.Main(context.Background(), service.Role{Name: "worker", Worker: true}, os.Args[1:], reg, os.Stderr))
}
