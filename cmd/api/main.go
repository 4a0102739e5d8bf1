// Command api serves the ia-modules HTTP API; with --scheduler it also runs
// the scheduler role. Configuration comes from flags or IA_DATABASE_URL,
// IA_QUEUE_URL, IA_REDIS_URL and IA_API_ADDR (see `api --help`).
package main

import (
	"context"
	"os"

	"github.com/ia-modules/ia-go/internal/cli"
	"github.com/ia-modules/ia-go/internal/gctune"
)

func main() {
	gctune.Default()
	os.Exit(cli.Main(context.Background(), append([]string{"serve"}, os.Args[1:]...), os.Stdout, os.Stderr))
}
