#!/usr/bin/env bash
# Measure seqshm's Windows wake-ups under wine (numbers for docs/benchmarks.md):
#   1. wake-up latency: Subscriber.Wait woken by Publish vs a raw named-event
#      ping-pong between two processes, same run (scripts/wine/wakebench);
#   2. Publish cost with nobody waiting (wakebench publish);
#   3. idle CPU of `subscriber -follow` over 60 s with no publishes (run
#      time of all its threads, from /proc/PID/task/*/schedstat, and of
#      wineserver), next to a Go program that only sleeps (the runtime's
#      own floor) and one looping on a 100 ms WaitForSingleObject (what
#      Wait's idle sleeps cost when they stayed at 100 ms).
# Run alone on an idle machine: wineserver's time is shared by every wine
# process. Usage: scripts/wine/measure.sh [ROUNDS]   (default 3 ping-pong runs)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=scripts/wine/prefix.sh
source "$SCRIPT_DIR/wine/prefix.sh"
ROUNDS=${1:-3}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/wine-measure.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
(cd "$ROOT" && GOOS=windows GOARCH=amd64 go build -o "$TMP/" ./scripts/wine/wakebench ./cmd/publisher ./cmd/subscriber)
mkdir -p "$TMP/floor"
cat >"$TMP/floor/main.go" <<'GO'
package main

import (
	"os"
	"time"

	"golang.org/x/sys/windows"
)

func main() {
	h, _ := windows.CreateEvent(nil, 0, 0, nil)
	if len(os.Args) > 1 { // "sleep": the runtime alone
		time.Sleep(time.Hour)
	}
	for {
		windows.WaitForSingleObject(h, 100)
	}
}
GO
(cd "$ROOT" && GOOS=windows GOARCH=amd64 go build -o "$TMP/floor.exe" "$TMP/floor/main.go")
wine_prefix_setup
umask 077
mkdir -p "$TMP/seqshm"
export SEQSHM_DIR="Z:${TMP//\//\\}\\seqshm"
wine cmd /c exit 0 </dev/null >/dev/null 2>&1 || true

for ((i = 0; i < ROUNDS; i++)); do
    wine "$TMP/wakebench.exe" pingpong 2000
done
wine "$TMP/wakebench.exe" publish 2000000

# idle LABEL EXE ARGS...: run time of the process (all threads) and of
# wineserver over 60 s, in ns from schedstat (ticks of /proc/PID/stat are
# 10 ms: too coarse for 0.1 %).
idle() {
    local label=$1 pid w t0 t1 w0 w1
    shift
    wine "$@" </dev/null >/dev/null 2>&1 &
    pid=$! # wine execs the program: this is its process
    sleep 3
    runtime() { local t a sum=0; for t in /proc/"$1"/task/*/schedstat; do read -r a _ <"$t" && sum=$((sum + a)); done; echo "$sum"; }
    w=$(pgrep wineserver | head -1)
    t0=$(runtime "$pid"); w0=$(runtime "$w")
    sleep 60
    t1=$(runtime "$pid"); w1=$(runtime "$w")
    printf '%s: %s %.3f %% of a core, wineserver %.3f %% (60 s)\n' "$label" "$(basename "$1")" \
        "$(bc -l <<<"100 * ($t1 - $t0) / 60000000000")" "$(bc -l <<<"100 * ($w1 - $w0) / 60000000000")"
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
}
wine "$TMP/publisher.exe" idle hello
idle "a Go program asleep" "$TMP/floor.exe" sleep
idle "bare 100 ms WaitForSingleObject loop" "$TMP/floor.exe"
idle "subscriber -follow, no publishes" "$TMP/subscriber.exe" -follow idle
