package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"path"
	"strings"

	"github.com/seqshm/seqshm/exporter"
	"github.com/seqshm/seqshm/internal/cli"
)

// DefaultListen is where the exporter serves unless -listen says
// otherwise: loopback only, port 9866.
const DefaultListen = "127.0.0.1:9866"

// config is the parsed command line.
type config struct {
	listen    string
	globs     []string
	maxSize   cli.Size
	maxFields int
	owner     string
}

// options are the exporter's options for cfg.
func (cfg *config) options() *exporter.Options {
	return &exporter.Options{
		Globs:     cfg.globs,
		Owner:     cfg.owner,
		MaxValue:  cfg.maxSize.Bytes,
		MaxFields: cfg.maxFields,
	}
}

func usageError(format string, args ...any) error {
	return &cli.UsageError{Msg: fmt.Sprintf(format, args...), Synopsis: synopsis}
}

// flags are the command's flags, set into cfg.
func flags(cfg *config) *flag.FlagSet {
	cfg.maxSize = cli.Size{Bytes: exporter.DefaultMaxValue}
	fs := flag.NewFlagSet(tool, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by run, help by exporterMain
	fs.StringVar(&cfg.listen, "listen", DefaultListen, "address to serve /metrics and /healthz on")
	fs.Var(&cfg.maxSize, "max-size", "largest value to decode (default 1MiB)")
	fs.IntVar(&cfg.maxFields, "max-fields", exporter.DefaultMaxFields, "most numbers exported from one value")
	fs.StringVar(&cfg.owner, "owner", "", "export only segments this user (name or uid) owns")
	return fs
}

func parse(args []string) (*config, error) {
	cfg := new(config)
	fs := flags(cfg)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageError("%v", err)
	}
	if cfg.maxFields <= 0 {
		return nil, usageError("-max-fields %d is not positive", cfg.maxFields)
	}
	if _, _, err := net.SplitHostPort(cfg.listen); err != nil {
		return nil, &cli.UsageError{Msg: fmt.Sprintf("-listen %q: %v", cfg.listen, cli.Cause(err)),
			Hints: []string{"give HOST:PORT, such as 127.0.0.1:9866, or :9866 for every interface"}, Synopsis: synopsis}
	}
	for _, g := range fs.Args() {
		if name, _, _ := strings.Cut(strings.TrimLeft(g, "-"), "="); strings.HasPrefix(g, "-") && fs.Lookup(name) != nil {
			return nil, usageError("flags go before GLOBs (got %q after a GLOB)", g)
		}
		if _, err := path.Match(g, ""); err != nil {
			return nil, &cli.UsageError{Msg: fmt.Sprintf("bad GLOB %q: %v", g, err),
				Hints: []string{"a GLOB is a segment name with * ? and [...] as in the shell, such as 'imu*'; quote it"}, Synopsis: synopsis}
		}
	}
	cfg.globs = fs.Args()
	return cfg, nil
}
