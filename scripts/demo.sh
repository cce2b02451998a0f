#!/usr/bin/env bash
# A live demo of seqshm on a fresh machine: builds the two tools, starts a
# publisher that stamps the time every 10 ms, and shows a subscriber
# following it, its statistics, the segment's facts, a crash and a
# take-over. Segments live in a temporary directory and are removed.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

bin=$(mktemp -d)
export SEQSHM_DIR=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$bin" "$SEQSHM_DIR"
}
trap cleanup EXIT

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

go build -o "$bin/" ./cmd/publisher ./cmd/subscriber
export PATH="$bin:$PATH"

say "publisher greeting 'hello, world'        # publish once; the value stays"
publisher greeting 'hello, world'
say "subscriber greeting"
subscriber greeting

say "publisher -clock clock &                 # the time, every 10 ms"
publisher -clock clock &
pids+=($!)
sleep 0.3
say "subscriber -follow clock                 # for one second (values coalesce)"
timeout -s INT 1 subscriber -follow clock | head -n 5 || true
say "subscriber -stats clock                  # rate and publish->observe latency, 3 s"
timeout -s INT 3.5 subscriber -stats clock || true
say "subscriber -info clock"
subscriber -info clock

say "kill -9 the publisher; the last value survives"
kill -9 "${pids[0]}"
wait "${pids[0]}" 2>/dev/null || true
subscriber -json clock
subscriber -list

say "publisher clock 'a new publisher takes over'"
publisher clock 'a new publisher takes over'
subscriber -info clock
