// Command seqshm-bridge carries the latest value of seqshm segments between
// machines through a NATS JetStream key-value bucket: "export" mirrors a
// local segment into a key, "import" publishes a key's values into a local
// segment. See docs/bridge.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/seqshm/seqshm/internal/cli"
)

const usage = `usage: seqshm-bridge export [flags] NAME
       seqshm-bridge import [flags] NAME

export mirrors each new value of the local segment NAME into the key NAME
(or -key) of a NATS JetStream key-value bucket. Values coalesce when the
network is slower than the publisher: at most one write is in flight, and
the newest value is always the next one sent. One exporter owns a key; a
second one is refused ("another exporter owns key K", exit 1).

import watches the key NAME (or -key) and publishes each value into the
local segment NAME, created with -capacity, keeping the original publish
time, so that local subscribers read remote values at memory speed.

Both reconnect forever when the server goes away, and stop cleanly on
SIGINT or SIGTERM (exit 0).

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
  -reconnect-wait D   pause between reconnect attempts (default 1s)

key flags:
  -bucket B           key-value bucket, created if missing (default seqshm)
  -key K              key (default NAME)

export flags:
  -stale D            a key unwritten for D may be taken over by another
                      exporter (default 10s; use one value for all exporters)
  -heartbeat D        rewrite an unchanged value every D to show this
                      exporter is alive (default stale/3)
  -takeover           claim the key at once, even from a live exporter
                      (which then stops with "another exporter owns key K")
  -timeout D          bound on one request to the server (default 2s)

import flags:
  -capacity SIZE      capacity of the local segment: bytes, or with a suffix
                      KiB or MiB (default 4KiB)
  -mode MODE          permission of a new segment, octal (default 0600)

other flags:
  -q                  print only errors, not progress

Exit status: 0 on a clean stop, 1 on a failure, 2 on a usage error.

Examples:
  seqshm-bridge export -server nats://hub:4222 imu
  seqshm-bridge import -server nats://hub:4222 -capacity 64KiB imu
  NATS_USER=robot NATS_PASSWORD=... seqshm-bridge export -key robot1.imu imu
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(report(os.Stderr, err))
}

// run runs the command line args. It returns nil on success, on -h and on
// a clean stop by ctx; a *cli.UsageError for a mistake on the command
// line; another error (usually a *cli.Error) for a failure.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErr("missing subcommand: export or import")
	}
	switch args[0] {
	case "export":
		return runExport(ctx, args[1:], stdout, stderr)
	case "import":
		return runImport(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usageErr("unknown subcommand %q: want export or import", args[0])
}

// synopsis ends every usage error's report.
const synopsis = `usage: seqshm-bridge export [flags] NAME
       seqshm-bridge import [flags] NAME
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
