// Command ia validates, formats and draws IA Modules pipelines.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/ia-modules/ia-go/internal/cli"
	"github.com/ia-modules/ia-go/internal/gctune"
)

func main() {
	gctune.Default()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
