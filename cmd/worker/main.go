// Command worker executes steps: the built-in Go steps and, for steps that
// name a module, Python step classes through the exec shim. To add your own
// Go steps, build a worker like examples/custom-worker.
package main

import (
	"context"
	"os"

	"github.com/ia-modules/ia-go/internal/gctune"
	"github.com/ia-modules/ia-go/pkg/service"
)

func main() {
	gctune.Default()
	os.Exit(service.Main(context.Background(), service.Role{Name: "worker", Worker: true}, os.Args[1:], nil, os.Stderr))
}
