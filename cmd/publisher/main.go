// Command publisher publishes values into a named seqshm segment: a value
// given once, each line of standard input, or the time on a clock.
//
// Run "publisher -h" for the manual.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/seqshm/seqshm/internal/cli"
	"github.com/seqshm/seqshm/schema"
	"github.com/seqshm/seqshm/seqlock"
	"github.com/seqshm/seqshm/shmfile"
)

func main() {
	ctx, stop := cli.SignalContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(cli.ExitCode(err))
}

// run is publisher with its arguments (without the program name) and
// standard files. It reports a failure on stderr and returns it; the exit
// code is cli.ExitCode of the result. It returns nil when ctx ends (a
// signal): that is a clean stop.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	err := publisher(ctx, args, stdin, stdout, stderr)
	cli.Report(stderr, "publisher", err)
	return err
}

// config is the parsed command line.
type config struct {
	name        string
	value       *string // nil: read lines from stdin
	capacity    cli.Size
	mode        cli.Mode
	stderr      io.Writer // for warnings
	noTimestamp bool
	clock       bool
	interval    time.Duration
	count       int
	rm          bool
	rmNames     []string
	typ         string         // -type: bytes, text or json; "" if not given
	schemaText  string         // -schema, or the file it names with @FILE
	schema      *schema.Schema // from -type or -schema; nil: the segment's, or text for a new one
}

func publisher(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, err := parse(args)
	if cfg != nil {
		cfg.stderr = stderr
	}
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		return err
	}
	if err != nil {
		return err
	}
	switch {
	case cfg.rm:
		return remove(cfg.rmNames)
	case cfg.clock:
		return publishClock(ctx, cfg)
	case cfg.value != nil:
		return publishOnce(cfg)
	}
	return publishLines(ctx, cfg, stdin)
}

func usageError(format string, args ...any) error {
	return &cli.UsageError{Msg: fmt.Sprintf(format, args...), Synopsis: synopsis}
}

func parse(args []string) (*config, error) {
	cfg := &config{}
	fs := flags(cfg)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageError("%v", err)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	rest := fs.Args()

	if cfg.rm {
		for _, f := range []string{"capacity", "mode", "no-timestamp", "clock", "interval", "count", "type", "schema"} {
			if given[f] {
				return nil, usageError("-rm does not go with -%s", f)
			}
		}
		if len(rest) == 0 {
			return nil, usageError("-rm needs the NAME of a segment to remove")
		}
		for _, name := range rest {
			if err := shmfile.CheckName(name); err != nil {
				return nil, cli.Explain(name, err)
			}
		}
		cfg.rmNames = rest
		return cfg, nil
	}
	if !cfg.clock {
		for _, f := range []string{"interval", "count"} {
			if given[f] {
				return nil, usageError("-%s goes with -clock", f)
			}
		}
	}
	if cfg.interval <= 0 {
		return nil, usageError("-interval %v is not positive", cfg.interval)
	}
	if cfg.count < 0 {
		return nil, usageError("-count %d is negative", cfg.count)
	}
	if err := parseSchema(cfg, given); err != nil {
		return nil, err
	}
	if cfg.capacity.Bytes > seqlock.MaxCapacity {
		return nil, usageError("-capacity %s is larger than the maximum, %s", cfg.capacity.String(), cli.FormatSize(seqlock.MaxCapacity))
	}
	switch {
	case len(rest) == 0:
		return nil, usageError("missing segment NAME")
	case cfg.clock && len(rest) > 1:
		return nil, usageError("-clock publishes the time: no VALUE after NAME (got %q)", rest[1])
	case len(rest) > 2:
		msg := fmt.Sprintf("too many arguments after NAME VALUE: %q", rest[2])
		if strings.HasPrefix(rest[1], "-") || strings.HasPrefix(rest[2], "-") {
			msg += " (flags go before NAME)"
		}
		return nil, usageError("%s", msg)
	}
	cfg.name = rest[0]
	if err := shmfile.CheckName(cfg.name); err != nil {
		return nil, cli.Explain(cfg.name, err)
	}
	if len(rest) == 2 {
		cfg.value = &rest[1]
	}
	return cfg, nil
}

// flags returns the tool's flag set, storing into cfg.
func flags(cfg *config) *flag.FlagSet {
	fs := flag.NewFlagSet("publisher", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by run, help by publisher
	fs.Var(&cfg.capacity, "capacity", "largest value of a new segment: 4096, 64KiB, 1MiB, up to 1TiB")
	fs.Var(&cfg.mode, "mode", "permission bits of a new segment, octal")
	fs.BoolVar(&cfg.noTimestamp, "no-timestamp", false, "do not stamp values with their publish time")
	fs.BoolVar(&cfg.clock, "clock", false, "publish the current time every -interval")
	fs.DurationVar(&cfg.interval, "interval", 10*time.Millisecond, "with -clock, time between values")
	fs.IntVar(&cfg.count, "count", 0, "with -clock, stop after this many values (0: never)")
	fs.BoolVar(&cfg.rm, "rm", false, "remove the named segments")
	fs.StringVar(&cfg.typ, "type", "", "kind of values of a new segment: text, json or bytes")
	fs.StringVar(&cfg.schemaText, "schema", "", "struct values: 'float64 x; float64 y', or @FILE")
	return fs
}
