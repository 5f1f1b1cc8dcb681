// Command commerce is the event-sourced commerce engine: one binary whose
// subcommands serve the HTTP API and background roles, migrate the
// PostgreSQL schemas, and print the build's version.
//
// This package is the only place that reads the environment: it keeps the
// settings table (config.go), the flags and the subcommands, and starts the
// engine through its assembly, internal/app, naming the assembly's settings
// by their environment variables. Every other package receives plain values.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/commerce-engine/commerce/internal/loadgen"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "dev"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, a second one kills the process at once.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `commerce is an event-sourced commerce engine.

Usage:
  commerce serve   [flags]   serve HTTP and run the configured roles until SIGINT/SIGTERM
  commerce migrate [flags]   apply the PostgreSQL migrations (event store, read models, analyst role)
  commerce admin create EMAIL  create an admin (password from COMMERCE_ADMIN_PASSWORD or stdin)
  commerce projections status  print each projection's position, the head, the lag and status
  commerce projections rebuild NAME  replay a projection into new tables, then swap them in
  commerce timeline ORDER_ID [--json]  print every event of an order's checkout, oldest first
  commerce loadgen [flags]   drive virtual shoppers through the whole checkout against a running engine
  commerce version           print version, commit and Go version
  commerce help              print this help

Every flag has an environment variable (shown in "commerce serve -h");
flags override the environment.
`

// Exit codes of run.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// run is main without the process: tests call it with their own arguments,
// environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "loadgen":
		// A client of a running engine: its own flags, not the engine's.
		return loadgen.Command(ctx, "commerce loadgen", args, getenv, stdout, stderr)
	case "serve", "migrate", "admin", "projections", "timeline":
	case "version", "-version", "--version":
		printVersion(stdout)
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "commerce: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}

	fs := flag.NewFlagSet("commerce "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed once, below
	jsonOut := new(bool)
	if cmd == "timeline" {
		jsonOut = fs.Bool("json", false, "print the timeline as the admin API's JSON")
	}
	cfg, rest, err := LoadConfig(fs, args, getenv)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fmt.Fprintf(stdout, "Usage of commerce %s (flags override the environment variable in brackets):\n", cmd)
		fs.PrintDefaults()
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "commerce %s: configuration refused:\n%v\n", cmd, err)
		return exitUsage
	case cmd == "admin" && (len(rest) != 2 || rest[0] != "create"):
		fmt.Fprintf(stderr, "usage: commerce admin create EMAIL (password from %s or standard input)\n", envAdminPassword)
		return exitUsage
	case cmd == "projections" && !(len(rest) == 1 && rest[0] == "status" || len(rest) == 2 && rest[0] == "rebuild"):
		fmt.Fprintln(stderr, "usage: commerce projections status | commerce projections rebuild NAME")
		return exitUsage
	case cmd == "timeline" && (len(rest) == 0 || len(rest) > 2 || len(rest) == 2 && rest[1] != "--json" && rest[1] != "-json"):
		fmt.Fprintln(stderr, "usage: commerce timeline ORDER_ID [--json]")
		return exitUsage
	case cmd != "admin" && cmd != "projections" && cmd != "timeline" && len(rest) > 0:
		fmt.Fprintf(stderr, "commerce %s: unexpected argument %q\n", cmd, rest[0])
		return exitUsage
	}

	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	switch cmd {
	case "serve":
		err = NewMain(cfg, WithLogger(logger)).Run(ctx)
	case "migrate":
		err = migrate(ctx, cfg, eventStoreSchema, logger, stdout)
	case "admin":
		err = adminCreate(ctx, cfg, rest[1], stdin, logger, stdout)
	case "projections":
		err = projectionsCommand(ctx, cfg, rest, logger, stdout)
	case "timeline":
		err = timelineCommand(ctx, cfg, rest[0], len(rest) == 2 || *jsonOut, logger, stdout)
	}
	if err != nil {
		logger.Error("commerce "+cmd+" failed", "error", err)
		return exitError
	}
	return exitOK
}

func printVersion(w io.Writer) {
	c := commit
	if c == "dev" {
		if info, ok := debug.ReadBuildInfo(); ok {
			for _, s := range info.Settings {
				if s.Key == "vcs.revision" && s.Value != "" {
					c = s.Value
				}
			}
		}
	}
	fmt.Fprintf(w, "commerce %s (commit %s, %s, %s/%s)\n", version, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
