package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/seqshm/seqshm/bridge/natskv"
	"github.com/seqshm/seqshm/internal/cli"
	"github.com/seqshm/seqshm/shmfile"
)

// common holds the flags both subcommands take.
type common struct {
	conn    natskv.ConnOptions
	bucket  string
	key     string
	quiet   bool
	name    string // the segment, the one argument
	verbose func(format string, args ...any)
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.conn.URL, "server", os.Getenv("NATS_URL"), "")
	fs.StringVar(&c.conn.Creds, "creds", "", "")
	fs.StringVar(&c.conn.User, "user", os.Getenv("NATS_USER"), "")
	fs.StringVar(&c.conn.Password, "password", os.Getenv("NATS_PASSWORD"), "")
	fs.StringVar(&c.conn.TLSCA, "tlsca", "", "")
	fs.StringVar(&c.conn.TLSCert, "tlscert", "", "")
	fs.StringVar(&c.conn.TLSKey, "tlskey", "", "")
	fs.DurationVar(&c.conn.ReconnectWait, "reconnect-wait", time.Second, "")
	fs.StringVar(&c.bucket, "bucket", natskv.DefaultBucket, "")
	fs.StringVar(&c.key, "key", "", "")
	fs.BoolVar(&c.quiet, "q", false, "")
}

// parse parses args (flags may come before or after NAME) and checks the
// common flags. -h gives flag.ErrHelp after printing the usage to stdout.
func (c *common) parse(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		return flagErr(err, stdout)
	}
	if fs.NArg() == 0 {
		return usageErr("missing segment NAME")
	}
	c.name = fs.Arg(0)
	if err := fs.Parse(fs.Args()[1:]); err != nil {
		return flagErr(err, stdout)
	}
	if fs.NArg() > 0 {
		return usageErr("too many arguments: %q (one segment NAME per bridge)", fs.Args())
	}
	var badName *cli.UsageError // cli.Explain's, with its hint on names
	if err := cli.Explain(c.name, shmfile.CheckName(c.name)); errors.As(err, &badName) {
		badName.Synopsis = synopsis
		return badName
	}
	keyGiven := c.key != ""
	if !keyGiven {
		c.key = c.name
	}
	switch err := natskv.CheckKey(c.key); {
	case err != nil && !keyGiven:
		return usageErr("segment name %q is not a valid NATS key (it ends with '.'): give one with -key", c.name)
	case err != nil:
		return usageErr("-key: %s", strings.TrimPrefix(err.Error(), "natskv: invalid key or bucket name: "))
	}
	if err := natskv.CheckBucket(c.bucket); err != nil {
		return usageErr("-bucket: %s", strings.TrimPrefix(err.Error(), "natskv: invalid key or bucket name: "))
	}
	if (c.conn.TLSCert == "") != (c.conn.TLSKey == "") {
		return usageErr("-tlscert and -tlskey go together")
	}
	if c.conn.ReconnectWait <= 0 {
		return usageErr("-reconnect-wait must be positive")
	}
	c.conn.Name = "seqshm-bridge " + c.name
	c.conn.Logf = c.logger(stderr)
	c.verbose = c.conn.Logf
	return nil
}

func flagErr(err error, stdout io.Writer) error {
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		return flag.ErrHelp
	}
	return usageErr("%s", err)
}

// logger returns the progress printer: "seqshm-bridge: NAME: msg" lines
// on stderr, from any goroutine (the NATS client reports from its own).
func (c *common) logger(stderr io.Writer) func(format string, args ...any) {
	if c.quiet {
		return func(string, ...any) {}
	}
	var mu sync.Mutex
	return func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stderr, "seqshm-bridge: %s: %s\n", c.name, fmt.Sprintf(format, args...))
	}
}
