package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/seqshm/seqshm/bridge/natskv"
)

// common holds the flags every subcommand takes.
type common struct {
	conn    natskv.ConnOptions
	bucket  string
	quiet   bool
	health  string        // -health ADDR: serve /healthz there
	status  time.Duration // -status D: a status line every D; 0: none
	name    string        // what the diagnostics are about: the NAME, or the config file
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
	fs.BoolVar(&c.quiet, "q", false, "")
	fs.StringVar(&c.health, "health", "", "")
	fs.DurationVar(&c.status, "status", time.Minute, "")
}

// parse parses args (flags may come before, between and after the
// positional arguments) and returns the positional arguments. -h gives
// flag.ErrHelp after printing the usage to stdout.
func parse(fs *flag.FlagSet, args []string, stdout io.Writer) ([]string, error) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, flagErr(err, stdout)
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// check checks the common flags and sets up the logger, for diagnostics
// about name.
func (c *common) check(name string, stderr io.Writer) error {
	c.name = name
	if err := natskv.CheckBucket(c.bucket); err != nil {
		return usageErr("-bucket %q: use 1 or more of A-Z a-z 0-9 _ -", c.bucket)
	}
	if (c.conn.TLSCert == "") != (c.conn.TLSKey == "") {
		return usageErr("-tlscert and -tlskey go together")
	}
	if c.conn.ReconnectWait <= 0 {
		return usageErr("-reconnect-wait must be positive")
	}
	if c.status < 0 {
		return usageErr("-status must not be negative")
	}
	c.conn.Name = "seqshm-bridge " + name
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

// A rate is the -max-rate flag: writes per second per key, as N, N/s or
// N/m; 0 or "none" means no cap. It is a flag.Value.
type rate struct{ perSecond float64 }

func (r *rate) String() string {
	if r.perSecond < 0 {
		return "none"
	}
	return strconv.FormatFloat(r.perSecond, 'g', -1, 64) + "/s"
}

func (r *rate) Set(s string) error {
	if s == "none" || s == "0" {
		r.perSecond = -1
		return nil
	}
	num, per := s, 1.0
	switch {
	case strings.HasSuffix(s, "/s"):
		num = strings.TrimSuffix(s, "/s")
	case strings.HasSuffix(s, "/m"):
		num, per = strings.TrimSuffix(s, "/m"), 60
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n <= 0 || n > 1e6 {
		return fmt.Errorf("invalid rate %q: want N, N/s or N/m (writes per key), or none", s)
	}
	r.perSecond = n / per
	return nil
}

// maxRate is the natskv.ExportOptions.MaxRate of r.
func (r rate) maxRate() float64 { return r.perSecond }

// envelope is the -envelope flag. It is a flag.Value.
type envelope struct{ f natskv.Format }

func (e *envelope) String() string { return e.f.String() }
func (e *envelope) Set(s string) (err error) {
	e.f, err = natskv.ParseFormat(s)
	return err
}
