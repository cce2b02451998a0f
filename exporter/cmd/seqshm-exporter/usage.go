package main

// synopsis is printed after a usage error; usage, for -h, starts with it.
const synopsis = `usage: seqshm-exporter [-listen ADDR] [-max-size SIZE] [-max-fields N] [-owner USER] [GLOB...]
`

const usage = synopsis + `
seqshm-exporter serves the shared-memory segments of this machine to
Prometheus. At each scrape of http://ADDR/metrics it reads every segment whose
name matches a GLOB (all of them without one) once, as a subscriber does: it
never writes a segment and never slows a publisher. /healthz answers "ok".

Per segment (label segment="NAME") it exports:
    seqshm_up                       1 if read and decoded at this scrape, else 0
    seqshm_read_errors_total        scrapes at which it could not be read
    seqshm_writes_total             values written so far
    seqshm_value_bytes              length of the newest value
    seqshm_capacity_bytes           largest value it holds
    seqshm_value_timestamp_seconds  publish time of the newest value (if stamped)
    seqshm_value_age_seconds        its age at the scrape (if stamped)
    seqshm_writer_state{state}      1 for alive, closed, died or none; 0 for the others

and the numbers in the newest value as seqshm_value{segment, field}:
    struct  every number and bool (0/1); field "pos.x", with index="3" for
            array elements and unit="m/s" where the schema gives one
    json    every number and bool (0/1); field is the path, such as "a.b[2]"
    text    every KEY=VALUE whose VALUE is a number, such as
            "ax=0.01 ay=-0.02 az=9.81"; a text that is one number is field "value"
    bytes   nothing (values without a schema are opaque; the publisher
            command makes text segments unless given -type bytes)

A segment that cannot be read is exported as seqshm_up 0 and logged once on
stderr; the other segments are exported as usual. Files that are not seqshm
segments, and other users' segments that this user may not read, are skipped.

SIGINT (Ctrl-C) and SIGTERM stop the exporter cleanly, with exit status 0.

Options:
    -listen ADDR       Address to serve on (default 127.0.0.1:9866, loopback only;
                       :9866 serves every interface).
    -max-size SIZE     Largest value to decode, such as 64KiB (default 1MiB);
                       a larger one gives seqshm_up 0 and no seqshm_value.
    -max-fields N      Most numbers exported from one value (default 1000).
    -owner USER        Export only segments this user (name or uid) owns.
    -h                 Print this help.

A GLOB is a segment name with the wildcards * ? and [...] of path.Match; quote
it for the shell. Flags come before GLOBs. Segments are files in $SEQSHM_DIR if
it is set, else /dev/shm on Linux and $TMPDIR/seqshm on macOS.

Exit status: 0 on a clean stop by signal or -h, 1 on failure (such as an
address already in use), 2 on a usage error.

Examples:
    $ publisher imu 'ax=0.01 ay=-0.02 az=9.81'
    $ seqshm-exporter &
    $ curl -s 127.0.0.1:9866/metrics | grep '^seqshm_value'
    seqshm_value{field="ax",segment="imu"} 0.01
    seqshm_value{field="ay",segment="imu"} -0.02
    seqshm_value{field="az",segment="imu"} 9.81

    Export only the robot's segments, to the network:
    $ seqshm-exporter -listen :9866 'robot.*' 'pose'

    prometheus.yml:
    scrape_configs:
      - job_name: seqshm
        static_configs:
          - targets: ['127.0.0.1:9866']
`
