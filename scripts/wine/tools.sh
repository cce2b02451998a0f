#!/usr/bin/env bash
# Run the README tour with the Windows tools under wine: cross-build
# publisher.exe and subscriber.exe (go build runs on Linux; only the .exe
# files run under wine) and blogread.exe (scripts/wine/blogread.c, a reader
# written like the classic OpenFileMappingW example), then check
#
#   1. publisher imu VALUE exits; subscriber imu prints VALUE (retained in
#      the file); subscriber -list shows imu; publisher -rm imu removes it;
#   2. publisher -clock -interval 50ms clock runs; blogread.exe reads it
#      through Local\seqshm.clock; subscriber -follow clock sees each
#      publish; subscriber -info says alive;
#   3. the publisher is killed (taskkill /F /PID, the hint the tools give);
#      subscriber -info says died; a new publisher takes the segment over.
#
# Usage: scripts/wine/tools.sh          (about 30 s once the prefix exists)
# Environment: WINE_TEST_PREFIX (see scripts/wine/prefix.sh),
# WINE_TOOLS_KEEP=1 keeps the temp dir.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=scripts/wine/prefix.sh
source "$SCRIPT_DIR/wine/prefix.sh"

for tool in go wine wineboot wineserver x86_64-w64-mingw32-gcc flock timeout; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found; run scripts/install-deps.sh"
done

T0=$(now_ms)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wine-tools.XXXXXX")
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    if [[ ${WINE_TOOLS_KEEP:-0} == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

log "building publisher.exe, subscriber.exe (windows/amd64) and blogread.exe"
(cd "$ROOT" && GOOS=windows GOARCH=amd64 go build -o "$TMP/" ./cmd/publisher ./cmd/subscriber)
x86_64-w64-mingw32-gcc -O2 -Wall -o "$TMP/blogread.exe" "$SCRIPT_DIR/wine/blogread.c"
x86_64-w64-mingw32-gcc -O2 -Wall -o "$TMP/seqshm-cat.exe" "$ROOT/clients/c/seqshm-cat.c"

wine_prefix_setup
# Segments go to a fresh directory (see scripts/wine/exec.sh for umask).
umask 077
mkdir -p "$TMP/seqshm"
export SEQSHM_DIR="Z:${TMP//\//\\}\\seqshm"
wine cmd /c exit 0 </dev/null >/dev/null 2>&1 || true # start wineserver off the clock

FAILS=0
fail() { printf 'FAIL: %s\n' "$*" >&2; FAILS=$((FAILS + 1)); }
ok() { printf 'ok:   %s\n' "$*" >&2; }
# run TOOL ARGS...: run a tool under wine with a time limit, stdout to $OUT.
run() {
    local tool=$1
    shift
    OUT=$(timeout 30 wine "$TMP/$tool.exe" "$@" 2>"$TMP/stderr") && RC=0 || RC=$?
    OUT=${OUT//$'\r'/}
}
expect() { # expect DESCRIPTION WANT-RC GREP-PATTERN [STDERR-GREP-PATTERN]
    if [[ $RC == "$2" ]] && grep -qE -- "$3" <<<"$OUT" && { [[ -z ${4:-} ]] || grep -qE -- "$4" "$TMP/stderr"; }; then
        ok "$1"
    else
        fail "$1: exit $RC, output: $OUT $(cat "$TMP/stderr")"
    fi
}

# ---- 1. one-shot publish, read, list, remove --------------------------------
VALUE='ax=0.01 ay=-0.02 az=9.81'
run publisher imu "$VALUE"
expect "publisher imu VALUE exits 0" 0 '^$'
run subscriber imu
expect "subscriber imu prints the retained value" 0 "^$VALUE\$"
run seqshm-cat imu
expect "seqshm-cat.exe (clients/c) reads the retained value from the file" 0 "$VALUE"
# Files cut short: the C reader bounds the region by the file's size, not by
# its view (rounded up to whole pages, the rest reading as zeros).
head -c 100 "$TMP/seqshm/imu" >"$TMP/seqshm/short"
head -c $(($(stat -c %s "$TMP/seqshm/imu") - 64)) "$TMP/seqshm/imu" >"$TMP/seqshm/cut"
run seqshm-cat short
expect "seqshm-cat.exe: a 100-byte file is not initialised yet" 1 '^$' 'not initialised yet: file of 100 bytes'
run seqshm-cat cut
expect "seqshm-cat.exe: a file 64 bytes short of its header's size is refused" 1 '^$' \
    'corrupt segment: header says [0-9]* bytes, region has'
rm -f "$TMP/seqshm/short" "$TMP/seqshm/cut"
run subscriber -list
expect "subscriber -list shows imu" 0 '^imu +'
run publisher -rm imu
expect "publisher -rm imu" 0 '^$'
run subscriber imu
expect "subscriber imu after -rm: no such segment" 1 '^$' 'no such segment'

# ---- 2. a clock publisher: named mapping, -follow, -info --------------------
wine "$TMP/publisher.exe" -clock -interval 50ms clock </dev/null >"$TMP/clock.out" 2>&1 &
PIDS+=($!)
run subscriber -wait 10s clock
expect "subscriber -wait 10s clock gets a first value" 0 '^[0-9]{4}-'
run blogread clock
expect "blogread.exe reads Local\\seqshm.clock (OpenFileMappingW)" 0 '^seq=[1-9][0-9]* len=[0-9]+ hdr=[0-9]+ value=[0-9]{4}-'
timeout 3 wine "$TMP/subscriber.exe" -follow clock </dev/null >"$TMP/follow.out" 2>&1 || true
lines=$(grep -cE '^[0-9]{4}-' "$TMP/follow.out" || true)
# 50 ms for ~2.5 s once wine has started the process: expect 20 or more.
if ((lines >= 10)); then ok "subscriber -follow saw $lines publishes in 3 s"; else fail "subscriber -follow saw $lines publishes in 3 s: $(head -5 "$TMP/follow.out")"; fi
run subscriber -info clock
expect "subscriber -info: writer alive" 0 '^writer: +alive \(pid [0-9]+'
winpid=$(sed -nE 's/^writer: +alive \(pid ([0-9]+).*/\1/p' <<<"$OUT")

# ---- 3. kill the publisher: died, then a new publisher takes over ----------
if [[ -n $winpid ]]; then
    wine taskkill /F /PID "$winpid" </dev/null >/dev/null 2>&1 || kill -9 "${PIDS[-1]}"
else
    kill -9 "${PIDS[-1]}"
fi
wait "${PIDS[-1]}" 2>/dev/null || true
run subscriber -info clock
expect "subscriber -info after taskkill /F: writer died" 0 '^writer: +died'
before=$(sed -nE 's/^writes: +([0-9]+).*/\1/p' <<<"$OUT")
run publisher -clock -interval 10ms -count 3 clock
expect "a new publisher takes the segment over" 0 '^$'
run subscriber -info clock
expect "subscriber -info: writer closed" 0 '^writer: +closed'
after=$(sed -nE 's/^writes: +([0-9]+).*/\1/p' <<<"$OUT")
if [[ -n $before && -n $after ]] && ((after == before + 3)); then ok "writes went on from $before to $after"; else fail "writes $before -> $after, want +3"; fi
run publisher -rm clock
expect "publisher -rm clock" 0 '^$'
leftover=$(ls -A "$TMP/seqshm")
[[ -z $leftover ]] && ok "segment directory empty" || fail "left in the segment directory: $leftover"

log "wine tools tour: $FAILS failure(s) in $(elapsed "$T0")"
((FAILS == 0))
