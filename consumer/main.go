// Command consumer is kinflow's long-running mode and its command-line tool.
//
//	consumer [run]     read the Kinesis stream as a KCL worker (the default)
//	consumer setup     install the index templates
//	consumer finalize  run one finalizer pass (closed windows -> final connection sets, webhook)
//	consumer deadletters  list, show and redrive dead letters through the current configuration
//	consumer decode    print the documents a record produces (debugging)
//	consumer console   serve the security console: a read-only web UI over the indices and the state table
//	consumer health    probe the running consumer's /healthz or /readyz (the container health check)
//
// The local demo behind `make demo` is a command of its own (../demo), so that its emulator staging and synthetic
// traffic stay out of the image this command is built into.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// errUsage marks a command line that could not be understood; main exits 2 for it.
var errUsage = errors.New("usage")

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"decode", "print the documents the records in files or stdin produce (NDJSON); errors to stderr", runDecode},
		{"run", "read the Kinesis stream as a KCL worker (the default)", runConsumer},
		{"setup", "install the index templates into the configured cluster", runSetup},
		{"finalize", "run one finalizer pass: closed windows become final connection sets (JSON report)", runFinalize},
		{"deadletters", "list, show and redrive dead letters (list | show ID | redrive [-dry-run=false])", runDeadLetters},
		{"console", "serve the security console, a read-only web UI (KINFLOW_CONSOLE_ADDR, default 127.0.0.1:8080)", runConsole},
		{"health", "exit 0 if the consumer on this machine answers /healthz (or /readyz with -ready), 1 otherwise", runHealth},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := dispatch(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "consumer:", err)
		os.Exit(1)
	}
}

func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	name := "run"
	if len(args) > 0 {
		name, args = args[0], args[1:]
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, args, stdin, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "consumer: unknown command %q\n\nCommands:\n", name)
	for _, c := range commands() {
		fmt.Fprintf(stderr, "  %-11s %s\n", c.name, c.summary)
	}
	return errUsage
}
