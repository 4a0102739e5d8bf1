// Command scheduler applies run events and publishes tasks. Run several for
// availability; they coordinate through the store.
package main

import (
	"context"
	"os"

	"github.com/ia-modules/ia-go/internal/gctune"
	"github.com/ia-modules/ia-go/pkg/service"
)

func main() {
	gctune.Default()
	os.Exit(service.Main(context.Background(), service.Role{Name: "scheduler", Scheduler: true}, os.Args[1:], nil, os.Stderr))
}
