// Command subscriber reads the latest value of a named seqshm segment:
// once, following every new value, as statistics, or the segment's facts.
//
// Run "subscriber -h" for the manual.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/seqshm/seqshm/internal/cli"
	"github.com/seqshm/seqshm/seqlock"
	"github.com/seqshm/seqshm/shmfile"
)

func main() {
	ctx, stop := cli.SignalContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(cli.ExitCode(err))
}

// run is subscriber with its arguments (without the program name) and
// standard files. It reports a failure on stderr and returns it; the exit
// code is cli.ExitCode of the result. It returns nil when ctx ends (a
// signal): that is a clean stop.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	out := bufio.NewWriter(stdout)
	err := subscriber(ctx, args, out)
	if ferr := out.Flush(); ferr != nil && err == nil {
		err = writeError(ferr)
	}
	cli.Report(stderr, "subscriber", err)
	return err
}

// config is the parsed command line.
type config struct {
	name     string
	follow   bool
	count    int
	json     bool
	wait     time.Duration
	info     bool
	list     bool
	stats    bool
	interval time.Duration
	spin     bool
	owner    string
	maxSize  cli.Size
	field    string
}

// openOptions are the library's options for cfg.
func (cfg *config) openOptions() *seqlock.OpenOptions {
	return &seqlock.OpenOptions{Owner: cfg.owner, MaxValue: cfg.maxSize.Bytes}
}

func subscriber(ctx context.Context, args []string, out *bufio.Writer) error {
	cfg, err := parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(out, usage)
		return err
	}
	if err != nil {
		return err
	}
	switch {
	case cfg.list:
		return list(cfg, out)
	case cfg.info:
		return info(ctx, cfg, out)
	case cfg.stats:
		return stats(ctx, cfg, out)
	case cfg.follow:
		return follow(ctx, cfg, out)
	}
	return readOnce(ctx, cfg, out)
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

	var modes []string
	for _, m := range []string{"follow", "info", "list", "stats"} {
		if given[m] {
			modes = append(modes, "-"+m)
		}
	}
	if len(modes) > 1 {
		return nil, usageError("%s and %s do not go together", modes[0], modes[1])
	}
	if given["field"] && (cfg.info || cfg.list || cfg.stats) {
		return nil, usageError("-field goes with printing values (alone, or with -follow)")
	}
	for flag, mode := range map[string]string{"count": "follow", "interval": "stats", "spin": "stats"} {
		if given[flag] && !given[mode] {
			return nil, usageError("-%s goes with -%s", flag, mode)
		}
	}
	switch {
	case cfg.count < 0:
		return nil, usageError("-count %d is negative", cfg.count)
	case cfg.wait < 0:
		return nil, usageError("-wait %v is negative", cfg.wait)
	case cfg.interval <= 0:
		return nil, usageError("-interval %v is not positive", cfg.interval)
	}

	rest := fs.Args()
	if cfg.list {
		for _, f := range []string{"wait", "owner", "max-size"} {
			if given[f] {
				return nil, usageError("-list does not go with -%s", f)
			}
		}
		if len(rest) > 0 {
			return nil, usageError("-list takes no NAME (got %q)", rest[0])
		}
		return cfg, nil
	}
	switch {
	case len(rest) == 0:
		return nil, usageError("missing segment NAME")
	case len(rest) > 1:
		return nil, usageError("one NAME only, then nothing (got %q; flags go before NAME)", rest[1])
	}
	cfg.name = rest[0]
	if err := shmfile.CheckName(cfg.name); err != nil {
		return nil, cli.Explain(cfg.name, err)
	}
	return cfg, nil
}

// flags returns the tool's flag set, storing into cfg.
func flags(cfg *config) *flag.FlagSet {
	fs := flag.NewFlagSet("subscriber", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by run, help by subscriber
	fs.BoolVar(&cfg.follow, "follow", false, "print each new value until interrupted")
	fs.IntVar(&cfg.count, "count", 0, "with -follow, exit after this many values")
	fs.BoolVar(&cfg.json, "json", false, "print JSON, one object a line")
	fs.DurationVar(&cfg.wait, "wait", 0, "wait this long for the segment and a first value")
	fs.BoolVar(&cfg.info, "info", false, "print the segment's facts")
	fs.BoolVar(&cfg.list, "list", false, "print the facts of every segment")
	fs.BoolVar(&cfg.stats, "stats", false, "print update rate, coalesced updates and latency")
	fs.DurationVar(&cfg.interval, "interval", time.Second, "with -stats, the time between reports")
	fs.BoolVar(&cfg.spin, "spin", false, "with -stats, busy-poll instead of sleeping")
	fs.StringVar(&cfg.owner, "owner", "", "trust only segments this user (name or uid) owns")
	fs.Var(&cfg.maxSize, "max-size", "largest value to read (default 64MiB)")
	fs.StringVar(&cfg.field, "field", "", "print one field of a struct value, such as y, cov[4] or pos.x")
	return fs
}
