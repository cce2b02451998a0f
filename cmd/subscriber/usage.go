package main

// synopsis is printed after a usage error; usage, for -h, starts with it.
const synopsis = `usage: subscriber [-json] [-field F] [-wait D] [-owner USER] [-max-size SIZE] NAME
       subscriber -follow [-json] [-field F] [-count N] [-wait D] NAME
       subscriber -stats [-json] [-spin] [-interval D] [-wait D] NAME
       subscriber -info [-json] [-wait D] NAME
       subscriber -list [-json]
`

const usage = synopsis + `
subscriber prints the latest value of the shared-memory segment NAME, which a
publisher (see publisher -h) keeps up to date. It never changes the segment
and never blocks its publisher.

Without a mode flag, subscriber prints the latest value and exits: text and
json values as they are, struct values as name=value pairs (logfmt), bytes as
they are. A segment that does not exist, or holds no value yet, is an error
unless -wait gives the time to wait for one.

With -follow, it prints the latest value and then each new one until
interrupted. It sleeps while no value comes (it uses next to no CPU); values
published faster than it prints them coalesce: it always prints the newest,
and skips the ones overwritten meanwhile. It goes on across publishers: when
one exits or dies and another takes the segment over, it prints the new
one's values.

With -stats, it follows NAME and prints once a second (-interval) the update
rate, how many updates it did not observe (coalesced), and the latency from
publish to observation (p50, p99, max), like iox2 service hz. Latency needs
values stamped with their publish time (publisher does so unless
-no-timestamp). -spin busy-polls instead of sleeping: lower latency, one
CPU at 100%.

With -info, it prints the segment's facts: capacity, what its values are
(text, json, bytes, or a struct and its schema), number of writes, length,
publish time and age of the latest value, the state of its publisher (alive,
closed, died or none) and its pid, owner, mode, size and creation time.
-list prints the same for every segment, one a line. -json prints one JSON
object a line for values, -info, -list and -stats.

Options:
    -follow        Print each new value until interrupted.
    -count N       With -follow, exit after N values (default 0: never).
    -json          Print JSON, one object a line. A value is
                   {"name", "seq", "time", "value"}: "time" is the publish
                   time (RFC 3339, omitted if unstamped); "value" is a string
                   for text, the document for json, an object of the fields
                   for a struct (NaN and infinities as "NaN", "+Inf", "-Inf");
                   bytes that are not UTF-8 come as "value_base64".
    -field F       Print one field of a struct value: a name, an element
                   such as cov[4], or a nested field such as pos.x.
    -owner USER    Trust only a segment that USER (a name or a uid) owns:
                   another user could have made it to feed you values.
    -max-size SIZE Largest value to read, such as 1GiB (default 64MiB): a
                   segment may claim any capacity; larger values are an error.
    -wait D        Wait up to D for the segment to exist and (without -follow)
                   for a first value, such as -wait 5s. Default 0: no wait.
    -info          Print the segment's facts.
    -list          Print the facts of every segment.
    -stats         Print update rate, coalesced updates and latency.
    -interval D    With -stats, the time between reports (default 1s).
    -spin          With -stats, busy-poll instead of sleeping.
    -h             Print this help.

A NAME is 1 to 200 characters of A-Z a-z 0-9 . _ -, not starting with '.'.
Segments are files in $SEQSHM_DIR if it is set, else /dev/shm on Linux and
$TMPDIR/seqshm on macOS and %LOCALAPPDATA%\seqshm on Windows.

Exit status: 0 on success or a clean stop by signal, 1 on failure (such as
no such segment, or no value yet), 2 on a usage error, 128 plus the
signal's number (130 for SIGINT, 143 for SIGTERM) when a signal interrupts
-wait before a value came.

Examples:
    $ publisher greeting hello
    $ subscriber greeting
    hello

    $ subscriber -follow -json now
    {"name":"now","seq":41,"time":"2026-01-02T15:04:05.123456789Z","value":"2026-01-02T15:04:05.123456789Z"}

    Wait up to 10 seconds for a service to publish its address:
    $ addr=$(subscriber -wait 10s svc.addr)

    $ subscriber -stats now
    now: 100 writes/s, 100 observed, 0 coalesced, latency p50 41.2µs p99 88.1µs max 102µs

    $ subscriber -info greeting
    $ subscriber -list
`
