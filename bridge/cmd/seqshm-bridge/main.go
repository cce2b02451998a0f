// Command seqshm-bridge carries the latest value of seqshm segments between
// machines through a NATS JetStream key-value bucket: "export" mirrors
// local segments into keys, "import" publishes keys' values into local
// segments, "run" does both from a config file, through one connection.
// See docs/bridge.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/seqshm/seqshm/internal/cli"
)

const usage = `usage: seqshm-bridge export [flags] NAME|GLOB...
       seqshm-bridge import [flags] NAME|PATTERN
       seqshm-bridge run [flags] CONFIG

export mirrors each new value of the local segment NAME into the key NAME
(or -key) of a NATS JetStream key-value bucket. With globs ('robot1.*',
path.Match syntax; several allowed) it exports every matching segment,
including segments created later, each to the key -prefix + its name.
Values coalesce when the network is slower than the publisher, and each key
is written at most -max-rate times a second: the newest value is always
written at the end of each interval, never dropped. One exporter owns a
key; a second one is refused ("another exporter owns key K", exit 1).

import watches the key NAME (or -key) and publishes each value into the
local segment NAME, keeping the original publish time. The segment is
created when the key has a value, with the kind and schema the key carries
(text, json, a struct's fields; bytes from older exporters) and -capacity
(a struct's is its size); an existing segment of another kind or schema is
refused. With a key wildcard ('robot1.>', 'robot1.*.pose') it imports every
matching key into a segment named after the key (minus -strip, plus
-prefix), created when the key appears.

run reads a JSON config file of export and import mappings and runs them
all in one process, over one connection (docs/bridge.md, "Config file").

Segment names may contain empty tokens ("a..b", "a.") that NATS keys may
not: each empty token is written "=" in the key ("a.=.b"), and mapped back
on import. All subcommands wait for the server if it is down at start,
reconnect forever, and stop cleanly on SIGINT or SIGTERM (exit 0),
releasing their keys so that a restarted exporter takes them over at once.

connection flags:
  -server URL         NATS server URL, or several, comma-separated
                      (default $NATS_URL, else nats://127.0.0.1:4222)
  -creds FILE         credentials file (user JWT and NKey seed, from nsc)
  -user USER          user name (default $NATS_USER)
  -password PASS      password (default $NATS_PASSWORD; prefer the variable:
                      command lines are visible to other users in ps)
  -tlsca FILE         CA certificates (PEM) to verify the server with
  -tlscert FILE       client certificate (PEM), for mutual TLS, with -tlskey
  -tlskey FILE        the client certificate's private key (PEM)
  -reconnect-wait D   pause between connection attempts (default 1s)
  -bucket B           key-value bucket, created if missing (default seqshm)

export flags:
  -key K              key, for one NAME (default NAME)
  -prefix P           key prefix for globs, prepended as is ("site1.")
  -max-rate R         writes per second per key: N, N/s, N/m or none
                      (default 20/s)
  -envelope F         json (default: readable by any NATS client) or binary
  -stale D            a key unwritten for D may be taken over by another
                      exporter (default 10s; use one value for all exporters)
  -heartbeat D        rewrite an unchanged value every D to show this
                      exporter is alive (default stale/3)
  -takeover           claim the key at once, even from a live exporter
  -timeout D          bound on one request to the server (default 2s)
  -spin D             after each value, keep looking at the segment for up
                      to D (at most 10ms) before sleeping: lower latency
                      for a fast source, up to D of CPU per value (default
                      0; docs/bridge.md, "Latency")

import flags:
  -key K              key, for one NAME (default NAME)
  -strip S            with a PATTERN: removed from each key first
  -prefix P           with a PATTERN: put before each segment name
  -capacity SIZE      capacity of the local segments (not of struct ones,
                      sized by their schema): bytes, or with a suffix KiB
                      or MiB (default 4KiB)
  -mode MODE          permission of new segments, octal (default 0600)

daemon flags:
  -health ADDR        serve GET /healthz on ADDR (such as 127.0.0.1:8222):
                      200 while connected, 503 otherwise, with counters
  -status D           log a status line every D (default 1m; 0: never)
  -q                  print only errors, not progress

Exit status: 0 on a clean stop, 1 on a failure, 2 on a usage error.

Examples:
  seqshm-bridge export -server nats://hub:4222 imu
  seqshm-bridge import -server nats://hub:4222 -capacity 64KiB imu
  seqshm-bridge export -server nats://hub:4222 -max-rate 50/s 'robot1.*'
  seqshm-bridge import -server nats://hub:4222 'robot1.>'
  seqshm-bridge run -health 127.0.0.1:8222 /etc/seqshm-bridge.json
  NATS_USER=robot NATS_PASSWORD=... seqshm-bridge export -key robot1.imu imu
`

func main() {
	ctx, stop := cli.SignalContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(report(os.Stderr, err))
}

// run runs the command line args. It returns nil on success, on -h and on
// a clean stop by ctx; a *cli.UsageError for a mistake on the command
// line; another error (usually a *cli.Error) for a failure.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErr("missing subcommand: export, import or run")
	}
	switch args[0] {
	case "export":
		return runExport(ctx, args[1:], stdout, stderr)
	case "import":
		return runImport(ctx, args[1:], stdout, stderr)
	case "run":
		return runConfig(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usageErr("unknown subcommand %q: want export, import or run", args[0])
}

// synopsis ends every usage error's report.
const synopsis = `usage: seqshm-bridge export [flags] NAME|GLOB...
       seqshm-bridge import [flags] NAME|PATTERN
       seqshm-bridge run [flags] CONFIG
run 'seqshm-bridge -h' for the flags
`

// usageErr is a mistake on the command line: exit status 2.
func usageErr(format string, a ...any) error {
	return &cli.UsageError{Msg: fmt.Sprintf(format, a...), Synopsis: synopsis}
}

// report prints err for a person on stderr and returns the exit status.
func report(stderr io.Writer, err error) int {
	cli.Report(stderr, "seqshm-bridge", err)
	return cli.ExitCode(err)
}
