package main

// synopsis is printed after a usage error; usage, for -h, starts with it.
const synopsis = `usage: publisher [-capacity SIZE] [-mode MODE] [-type KIND | -schema DECLS] [-no-timestamp] NAME [VALUE]
       publisher -clock [-interval D] [-count N] [-capacity SIZE] [-mode MODE] NAME
       publisher -rm NAME...
`

const usage = synopsis + `
publisher makes a value the latest value of the shared-memory segment NAME,
creating the segment if it does not exist. Subscribers (see subscriber -h)
read the latest value whenever they like; it stays readable after the
publisher exits, like a retained message, until the segment is removed with
publisher -rm. One publisher at a time holds a segment: a second one is
refused while the first runs, and takes over once it has exited or died.

With VALUE, publisher publishes it once and exits.

Without VALUE, it publishes each line of standard input as it arrives (without
its "\n" or "\r\n"), until end of input. A line longer than the segment's
capacity is an error: the lines before it are published, and publisher exits
with status 1 naming the line.

Values say what they are. A new segment holds text (UTF-8) unless -type or
-schema says otherwise: -type json checks that each value is one JSON
document, -type bytes takes anything. -schema makes a struct segment, whose
values are fixed-size records of named fields (C layout, little-endian):
VALUE and each line of input are then JSON objects giving fields by name
(missing fields are zero; unknown fields and out-of-range numbers are
errors). An existing segment keeps what it holds; subscriber, C, Python and
the exporter decode its values by field name.

With -clock, it publishes the current time, RFC 3339 with nanoseconds, every
-interval until interrupted (or -count values), the publish stamp equal to the
time published.

SIGINT (Ctrl-C) and SIGTERM stop publisher cleanly: the segment is marked
closed (subscriber -info shows "closed", not "died") and the exit status is 0.

Options:
    -capacity SIZE   Largest value in bytes of a new segment, such as 4096, 64KiB
                     or 1MiB (default 4096). An existing segment keeps its own
                     capacity; asking for another one is an error.
    -mode MODE       Permission bits of a new segment, in octal (default 0600,
                     owner only). 0640 or 0644 lets other users subscribe.
    -type KIND       Values of a new segment: text (default), json or bytes.
    -schema DECLS    Struct values: declarations TYPE NAME [UNIT] separated by
                     ';' or new lines, such as 'float64 x [m]; float64 y [m];
                     uint32 status; float64[9] cov'; @FILE reads them from FILE.
                     Types: bool int8..int64 uint8..uint64 float32 float64,
                     char[N] (text), T[N] (arrays), struct{...} (nested).
    -no-timestamp    Do not stamp values with their publish time; subscribers
                     then show no age or latency.
    -clock           Publish the current time periodically.
    -interval D      With -clock, the time between values (default 10ms).
    -count N         With -clock, stop after N values (default 0: never).
    -rm              Remove the named segments. Refused while a publisher is
                     running, and for files that are not seqshm segments.
    -h               Print this help.

Flags come before NAME: "publisher NAME -x" publishes the value "-x".

A NAME is 1 to 200 characters of A-Z a-z 0-9 . _ -, not starting with '.'.
Segments are files in $SEQSHM_DIR if it is set, else /dev/shm on Linux and
$TMPDIR/seqshm on macOS and %LOCALAPPDATA%\seqshm on Windows (where a
running publisher also names its mapping Local\seqshm.NAME).

Exit status: 0 on success or a clean stop by signal, 1 on failure, 2 on a
usage error.

Examples:
    $ publisher greeting hello
    $ subscriber greeting
    hello

    Publish the last line of a log as it grows, values up to 64KiB:
    $ tail -F app.log | publisher -capacity 64KiB app.last

    Stamp the time every millisecond; watch rates and latency:
    $ publisher -clock -interval 1ms now &
    $ subscriber -stats now

    A pose, as fields any tool can read:
    $ publisher -schema 'float64 x [m]; float64 y [m]; float64 yaw [rad]' pose '{"x":1,"y":2}'
    $ subscriber pose
    x=1 y=2 yaw=0

    Let other users read a segment; remove it when done:
    $ publisher -mode 0644 motd "back at 5"
    $ publisher -rm motd
`
