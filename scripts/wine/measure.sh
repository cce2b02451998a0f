#!/usr/bin/env bash
# Measure seqshm's Windows wake-ups under wine (numbers for docs/benchmarks.md):
#   1. wake-up latency: Subscriber.Wait woken by Publish vs a raw named-event
#      ping-pong between two processes, same run (scripts/wine/wakebench);
#   2. Publish cost with nobody waiting (wakebench publish);
#   3. idle CPU of `subscriber -follow` over 60 s with no publishes, from
#      /proc/PID/stat of its wine process and wineserver, next to a bare Go
#      program looping on a 100 ms WaitForSingleObject (the floor of Wait's
#      100 ms safety-net wake-up under wine).
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

import "golang.org/x/sys/windows"

func main() {
	h, _ := windows.CreateEvent(nil, 0, 0, nil)
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

# idle LABEL EXE ARGS...: ticks of the process and wineserver over 60 s.
idle() {
    local label=$1 pid p t0 t1 w0 w1 hz
    shift
    wine "$@" </dev/null >/dev/null 2>&1 &
    pid=$!
    sleep 3
    ticks() { local s; read -r -a s <"/proc/$1/stat" && echo $((s[13] + s[14])); }
    p=$(pgrep -f "$(basename "$1")" | grep -vx "$$" | head -1)
    w=$(pgrep wineserver | head -1)
    t0=$(ticks "$p"); w0=$(ticks "$w")
    sleep 60
    t1=$(ticks "$p"); w1=$(ticks "$w")
    hz=$(getconf CLK_TCK)
    printf '%s: %s %.3f %% of a core, wineserver %.3f %% (60 s)\n' "$label" "$(basename "$1")" \
        "$(bc -l <<<"100 * ($t1 - $t0) / $hz / 60")" "$(bc -l <<<"100 * ($w1 - $w0) / $hz / 60")"
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
}
wine "$TMP/publisher.exe" idle hello
idle "bare 100 ms WaitForSingleObject loop" "$TMP/floor.exe"
idle "subscriber -follow, no publishes" "$TMP/subscriber.exe" -follow idle
