// Command seqshm-exporter serves the segments of this machine to
// Prometheus: per segment its writes, value age, size and publisher state,
// and the numbers in its value, at /metrics.
//
// Run "seqshm-exporter -h" for the manual.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/seqshm/seqshm/internal/cli"
)

const tool = "seqshm-exporter"

func main() { os.Exit(runMain(os.Args[1:])) }

// runMain is main with its arguments, returning the exit code: run until
// SIGINT or SIGTERM.
func runMain(args []string) int {
	ctx, stop := cli.SignalContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cli.ExitCode(run(ctx, args, os.Stdin, os.Stdout, os.Stderr))
}

// run is seqshm-exporter with its arguments (without the program name) and
// standard files. It reports a failure on stderr and returns it; the exit
// code is cli.ExitCode of the result. It returns nil when ctx ends (a
// signal): that is a clean stop.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	err := exporterMain(ctx, args, stdout, stderr)
	cli.Report(stderr, tool, err)
	return err
}

func exporterMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		return err
	}
	if err != nil {
		return err
	}
	return serve(ctx, cfg, stderr)
}
