// Command loadgen drives virtual shoppers through the whole checkout
// against a running engine and reports orders per second and each step's
// latency; `commerce loadgen` runs the same. Flags: loadgen -h.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/commerce-engine/commerce/internal/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := loadgen.Command(ctx, "loadgen", os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
