#!/usr/bin/env bash
# Tests of the foreign-language readers (clients/c, clients/python) against
# segments made by the Go implementation (clients/testdata/writer).
#
# Usage: clients/test.sh        (from anywhere; needs go, gcc, python3)
#
# Environment: SEQSHM_REQUIRE_NUMPY=1 makes the numpy check fail, instead of
# skipping, when neither python3 nor /usr/bin/python3 can import numpy (for
# CI, where scripts/install-deps.sh installs python3-numpy).
#
# Builds the C reader (and, if aarch64-linux-gnu-gcc is installed, an
# AArch64 build, run under qemu-aarch64 when that is installed too; if
# x86_64-w64-mingw32-gcc is installed, a Windows build, compiled only), vets
# the Go generators, then checks both readers on: a fixed value, ~3 s of
# checksummed values written at full speed while both read (zero torn
# values accepted), a writer that died mid-write, corrupt segments, a
# segment of layout version 1 (refused, and left as it was), typed
# values (a Go struct published with CreateTyped, read field by field in C,
# in Python and through numpy, and compared field by field across the Go
# subscriber's -json, Python's decoded dict and C's --fields), text and json
# segments, a header claiming a huge capacity, the value-size limit, damaged
# schema areas, a missing segment, things that are not segments, and bad
# usage; then fuzzes the C header and schema decoders. All segments live in
# a temporary $SEQSHM_DIR, so /dev/shm is never touched. Prints "N passed,
# M failed"; exits 1 if any check failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

WORK=$(mktemp -d)
export SEQSHM_DIR="$WORK/shm"
mkdir "$SEQSHM_DIR"
BIN="$WORK/bin"
mkdir "$BIN"
WRITER_PID=
BG_PIDS=() # background readers, killed if the script stops early
cleanup() {
	local pid
	for pid in $WRITER_PID "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok    $1"; }
fail() {
	failed=$((failed + 1))
	echo "FAIL  $1"
	shift
	local line
	for line in "$@"; do printf '      %s\n' "$line"; done
}

# run CMD...: runs CMD, setting $rc, $out and $err (never fails itself).
run() {
	if out=$("$@" 2>"$WORK/stderr"); then rc=0; else rc=$?; fi
	err=$(<"$WORK/stderr")
}

# check NAME WANT_RC STDOUT_RE STDERR_RE CMD...: run CMD and compare; an
# empty regular expression matches anything.
check() {
	local name=$1 want_rc=$2 out_re=$3 err_re=$4
	shift 4
	run "$@"
	if [[ $rc != "$want_rc" ]] || ! [[ $out =~ $out_re ]] || ! [[ $err =~ $err_re ]]; then
		fail "$name" "command: $*" "exit $rc, want $want_rc" "stdout: ${out:0:300}" "stderr: ${err:0:300}" \
			"want stdout =~ $out_re" "want stderr =~ $err_re"
		return
	fi
	pass "$name"
}

# step NAME CMD...: runs CMD (a build or vet); passes NAME if it succeeds,
# else fails NAME with CMD's messages and returns 1.
step() {
	local name=$1
	shift
	if "$@" 2>"$WORK/step.log"; then
		pass "$name"
	else
		fail "$name" "$(cat "$WORK/step.log")"
		return 1
	fi
}

# ---- build -----------------------------------------------------------------

CFLAGS=(-std=c11 -O2 -Wall -Wextra -Werror)
if ! step "build: gcc ${CFLAGS[*]} seqshm-cat.c" gcc "${CFLAGS[@]}" -o "$BIN/seqshm-cat" clients/c/seqshm-cat.c ||
	! step "build: go build ./clients/testdata/writer" go build -o "$BIN/writer" ./clients/testdata/writer; then
	echo "$passed passed, $failed failed"
	exit 1
fi
step "vet: go vet ./clients/testdata/writer ./clients/testdata/gen" go vet ./clients/testdata/writer ./clients/testdata/gen || true
# Windows: the header (and seqshm-cat) must compile cleanly; running it
# under wine is another test's job.
if command -v x86_64-w64-mingw32-gcc >/dev/null; then
	step "build: x86_64-w64-mingw32-gcc ${CFLAGS[*]} seqshm-cat.c" \
		x86_64-w64-mingw32-gcc "${CFLAGS[@]}" -o "$BIN/seqshm-cat.exe" clients/c/seqshm-cat.c || true
else
	echo "skip  build for Windows: x86_64-w64-mingw32-gcc not installed (apt-get install gcc-mingw-w64-x86-64)"
fi
ARM=
if command -v aarch64-linux-gnu-gcc >/dev/null; then
	if step "build: aarch64-linux-gnu-gcc ${CFLAGS[*]} seqshm-cat.c" \
		aarch64-linux-gnu-gcc "${CFLAGS[@]}" -o "$BIN/seqshm-cat-arm64" clients/c/seqshm-cat.c; then
		# The AArch64 fence instructions are where they should be.
		aarch64-linux-gnu-gcc "${CFLAGS[@]}" -S -o "$WORK/cat-arm64.s" clients/c/seqshm-cat.c
		if grep -q 'dmb[[:space:]]*ishld' "$WORK/cat-arm64.s"; then
			pass "build: aarch64 reader contains dmb ishld"
		else
			fail "build: aarch64 reader contains dmb ishld" "no 'dmb ishld' in the generated assembly"
		fi
		QEMU=$(command -v qemu-aarch64 || command -v qemu-aarch64-static || true)
		if [[ -n $QEMU && -d /usr/aarch64-linux-gnu ]]; then ARM="$QEMU -L /usr/aarch64-linux-gnu $BIN/seqshm-cat-arm64"; fi
	fi
else
	echo "skip  build for aarch64: aarch64-linux-gnu-gcc not installed"
fi

C_READER="$BIN/seqshm-cat"
PY_READER="python3 clients/python/seqshm.py"
READERS=(c py)
reader() { # reader c|py -> the command words
	case $1 in
	c) echo "$C_READER" ;;
	py) echo "$PY_READER" ;;
	arm64) echo "$ARM" ;;
	esac
}
if [[ -n $ARM ]]; then READERS+=(arm64); fi
# check_readers NAME WANT_RC STDOUT_RE STDERR_RE ARGS...: check, as "R: NAME",
# each reader R of READERS run with ARGS.
check_readers() {
	local name=$1 want_rc=$2 out_re=$3 err_re=$4 r
	shift 4
	for r in "${READERS[@]}"; do
		# shellcheck disable=SC2046 # the reader command is several words
		check "$r: $name" "$want_rc" "$out_re" "$err_re" $(reader "$r") "$@"
	done
}

# ---- a fixed value -------------------------------------------------------------

# The real publisher (it stamps and closes cleanly).
step "build: go build ./cmd/publisher" go build -o "$BIN/publisher" ./cmd/publisher || true
PUBLISH=("$BIN/publisher")
step "build: go build ./cmd/subscriber" go build -o "$BIN/subscriber" ./cmd/subscriber || true
"${PUBLISH[@]}" fixed1 'hello, world'
check_readers "fixed value" 0 '^hello, world$' '^$' fixed1
check_readers "fixed value as JSON" 0 '"seq":1,"len":12,"time_ns":[1-9][0-9]*,"writer":"closed","value":"hello, world"' '^$' \
	-j fixed1
# shellcheck disable=SC2086
check "c: info of a cleanly closed segment" 0 'writer: +closed \(state 2, pid [0-9]+, lock free\)' '^$' $C_READER -i fixed1
# shellcheck disable=SC2086
check "py: info of a cleanly closed segment" 0 '"writer":"closed","writer_state":2' '^$' $PY_READER -i -j fixed1

# A second publish adopts the segment: write 2 goes into slot 2.
"${PUBLISH[@]}" fixed1 'second value'
check_readers "second value after the segment was adopted" 0 '"seq":2,"len":12,.*"writer":"closed","value":"second value"' '^$' \
	-j fixed1

# ---- stress: checksummed values at full speed, both readers at once --------------

"$BIN/writer" stress stress1 3.5 >"$WORK/writer.out" 2>"$WORK/writer.err" &
WRITER_PID=$!
for _ in $(seq 100); do # wait up to 5 s for the first value
	if "$C_READER" -i -j stress1 2>/dev/null | grep -q '"seq":[1-9]'; then break; fi
	sleep 0.05
done
# shellcheck disable=SC2086
check "c: info while the writer runs" 0 "\"writer\":\"running\",\"writer_state\":1,\"writer_pid\":$WRITER_PID,.*\"lock_held\":1,\"lock_pid\":$WRITER_PID" '^$' \
	$C_READER -i -j stress1
# shellcheck disable=SC2086
$C_READER -f -d 3 --verify-crc stress1 >"$WORK/c.out" 2>"$WORK/c.err" &
C_PID=$!
BG_PIDS+=("$C_PID")
# shellcheck disable=SC2086
$PY_READER -f -d 3 --verify-crc stress1 >"$WORK/py.out" 2>"$WORK/py.err" &
PY_PID=$!
BG_PIDS+=("$PY_PID")
STRESSED=(c py)
if [[ -n $ARM ]]; then
	# Under qemu-user the host's memory model applies, so this checks the
	# AArch64 build's logic, not AArch64 reordering.
	$ARM -f -d 3 --verify-crc stress1 >"$WORK/arm64.out" 2>"$WORK/arm64.err" &
	ARM_PID=$!
	BG_PIDS+=("$ARM_PID")
	STRESSED+=(arm64)
fi
# shellcheck disable=SC2034 # c_rc, py_rc and arm64_rc are read as ${!rc_var} below
{
	if wait "$C_PID"; then c_rc=0; else c_rc=$?; fi
	if wait "$PY_PID"; then py_rc=0; else py_rc=$?; fi
	if [[ -n $ARM ]]; then if wait "$ARM_PID"; then arm64_rc=0; else arm64_rc=$?; fi; fi
}
BG_PIDS=() # all reaped
if wait "$WRITER_PID"; then w_rc=0; else w_rc=$?; fi
WRITER_PID=
writes=$(sed -n 's/^writes //p' "$WORK/writer.out")
if [[ $w_rc == 0 && ${writes:-0} -gt 1000 ]]; then
	pass "stress: go writer made $writes writes"
else
	fail "stress: go writer" "exit $w_rc" "$(cat "$WORK/writer.out" "$WORK/writer.err")"
fi
for r in "${STRESSED[@]}"; do
	res=$(cat "$WORK/$r.out")
	rc_var=${r}_rc
	if [[ ${!rc_var} == 0 && $res =~ ^reads\ ([0-9]+)\ torn\ 0\ lapped\ ([0-9]+)$ ]] && ((BASH_REMATCH[1] > 100)); then
		pass "$r: stress, $res"
	else
		fail "$r: stress (zero torn values accepted)" "exit ${!rc_var}" "stdout: $res" "stderr: $(head -c 600 "$WORK/$r.err")"
	fi
done

# The geometry the Go writer chose (docs/layout.md): 4224-byte slots
# (roundUp(64 + 4096, 128)), so 4 of them.
for r in c py; do
	# shellcheck disable=SC2046
	check "$r: info of a 4096-byte segment: 4 slots of 4224 bytes" 0 '"slot_size":4224,"slot0":256,"slot_count":4,"total_size":20608,' '^$' \
		$(reader "$r") -i -j stress1
done

# ---- a writer that died in the middle of write 2 -------------------------------

# The writer publishes write 1, leaves the counter odd, and the sequence
# word odd with garbage in the slot of write 2, and kills itself (SIGKILL:
# exit status 137 is expected).
("$BIN/writer" crash crash1 'last words' || true) 2>/dev/null
check_readers "value of a writer that died mid-write" 0 '"seq":1,"len":10,.*"writer":"died","value":"last words"' '^$' \
	-j crash1
# shellcheck disable=SC2086
check "c: info of a died writer" 0 'seq: +1 \(counter 3, write in progress\).*slots: +8 of 384 bytes each, slot 0 at 256.*writer: +died \(state 1, pid [0-9]+, lock free\)' '^$' \
	$C_READER -i crash1

# ---- corrupt segments ----------------------------------------------------------

# Segments of capacity 256 (8 slots of 384 bytes from 256, 4224 bytes in
# all) damaged by clients/testdata/writer (corruptKinds).
declare -A CORRUPT=(
	[magic]='not a seqshm segment: bad magic .NOTSEQSH'
	[version]='unsupported layout version: layout version 3, this reader knows 2$'
	[v1]='unsupported layout version: layout version 1, written by an older seqshm; this one reads version 2 only: remove the segment and let the writer re-create it$'
	[truncated]='corrupt segment: header says 4224 bytes, region has 4096 \(truncated\?\)'
	[tiny]='segment not initialised yet: file of 100 bytes is smaller than the 256-byte header'
	[notready]='segment not initialised yet'
	[slot]='corrupt segment: 8 slots of 384 bytes at 1099511627776 outside the 4224-byte segment'
	[count0]='corrupt segment: slot count 0, not a power of two in \[2, 64\]'
	[count3]='corrupt segment: slot count 3, not a power of two in \[2, 64\]'
	[count128]='corrupt segment: slot count 128, not a power of two in \[2, 64\]'
	[count64]='corrupt segment: 64 slots of 384 bytes at 256 outside the 4224-byte segment'
	[length]='corrupt segment: slot 1 holds write 1 of 1048576 bytes, at most 256 fit'
	[sseq]='corrupt segment: slot 1 holds sequence word 1, below the 2 of write 1 that the counter says is complete'
)
for kind in magic version v1 truncated tiny notready slot count0 count3 count128 count64 length sseq; do
	"$BIN/writer" corrupt "bad-$kind" "$kind"
	check_readers "corrupt segment ($kind)" 1 '^$' "^seqshm[-.a-z]*: bad-$kind: ${CORRUPT[$kind]}" "bad-$kind"
done

# A segment of layout version 1 is refused by the Go tools too, writer and
# reader alike, and nothing of it is touched (docs/layout.md, "Version 1").
cp "$SEQSHM_DIR/bad-v1" "$WORK/v1.orig"
check "go: publisher refuses a version-1 segment" 1 '^$' 'layout version 1.*older seqshm.*publisher -rm bad-v1' \
	"${PUBLISH[@]}" bad-v1 'new value'
check "go: subscriber refuses a version-1 segment" 1 '^$' 'layout version 1.*older seqshm' "$BIN/subscriber" bad-v1
if cmp -s "$SEQSHM_DIR/bad-v1" "$WORK/v1.orig"; then
	pass "version-1 segment left byte for byte as it was"
else
	fail "version-1 segment left byte for byte as it was" "$(cmp "$SEQSHM_DIR/bad-v1" "$WORK/v1.orig" 2>&1)"
fi
# The remedy the messages give: remove it, and the writer makes it anew.
check "go: publisher -rm removes a version-1 segment" 0 '' '' "${PUBLISH[@]}" -rm bad-v1
"${PUBLISH[@]}" bad-v1 'version 2 now'
check_readers "the re-created segment" 0 '^version 2 now$' '^$' bad-v1

# ---- typed values: a Go struct, field by field ----------------------------------

# The writer publishes one Record (clients/testdata/writer) with
# seqlock.CreateTyped and prints its fields as path=value lines; both
# readers' --fields must print exactly the same, from the schema area alone.
"$BIN/writer" typed typed1 - >"$WORK/typed.want"
for r in "${READERS[@]}"; do
	# shellcheck disable=SC2046
	run $(reader "$r") --fields typed1
	if [[ $rc == 0 && $out == "$(<"$WORK/typed.want")" ]]; then
		pass "$r: typed struct, $(wc -l <"$WORK/typed.want") fields equal Go's (float64, int32 < 0, uint64 max, bool, float32[3], char[8], NaN, ±Inf, nested, array of structs)"
	else
		fail "$r: typed struct fields equal Go's" "exit $rc" "stderr: ${err:0:300}" \
			"diff: $(diff <(echo "$out") "$WORK/typed.want" | head -20)"
	fi
	# shellcheck disable=SC2046
	check "$r: typed struct as JSON" 0 '"value":\{"f64":-1.2345678[0-9]*e-06,"i32":-2147483647,"u64":18446744073709551615,"ok":true,.*"frame":"base_lnk","nan":"NaN","pinf":"\+Inf","ninf":"-Inf",.*"pts":\[\{"x":1(\.0)?,"y":2(\.0)?\},' '^$' \
		$(reader "$r") -j typed1
done
# crosscheck NAME WHAT PYTHON ARGS...: runs clients/python/testdata/crosscheck.py
# ARGS with PYTHON; passes if it says all of at least the 25 fields of typed1
# agree, else fails with its table of the fields that differ.
crosscheck() {
	local name=$1 what=$2 py=$3 lines
	shift 3
	run "$py" clients/python/testdata/crosscheck.py "$@"
	if [[ $rc == 0 && $out =~ ^ok\ ([0-9]+)\ fields$ ]] && ((BASH_REMATCH[1] >= 25)); then
		pass "$name, all ${BASH_REMATCH[1]} $what"
		return
	fi
	mapfile -t lines <<<"$out"
	fail "$name: $what" "command: $py clients/python/testdata/crosscheck.py $*" "exit $rc${err:+, stderr: ${err:0:600}}" "${lines[@]}"
}
# The same value in the three languages: the Go subscriber's -json, the
# Python reader's read_decoded() dict and the C reader's --fields (and the
# AArch64 build's, if it runs) agree on every field, nested structs, arrays
# and char[8] included; floats compared as numbers of the field's type
# (clients/python/testdata/crosscheck.py).
run "$BIN/subscriber" -json typed1
if [[ $rc != 0 ]]; then
	fail "go/py/c: typed struct: fields agree" "subscriber -json typed1: exit $rc" "stderr: ${err:0:300}"
else
	printf '%s\n' "$out" >"$WORK/agree.go-json"
	AGREE=("go-json=$WORK/agree.go-json")
	AGREED="subscriber -json, read_decoded"
	for r in "${READERS[@]}"; do
		[[ $r == py ]] && continue
		# shellcheck disable=SC2046
		run $(reader "$r") --fields typed1 # a failure shows as missing fields
		printf '%s\n' "$out" >"$WORK/agree.$r"
		AGREE+=("$r=$WORK/agree.$r")
		AGREED+=", $r --fields"
	done
	crosscheck "go/py/c: typed struct" "fields agree ($AGREED)" python3 agree typed1 "${AGREE[@]}"
fi
# shellcheck disable=SC2086
check "c: info shows the schema" 0 'schema: +struct of 136 bytes, fingerprint 0x[0-9a-f]+: float64 f64 \[m/s\]; int32 i32; uint64 u64; bool ok; float32\[3\] vec; char\[8\] frame;' '^$' \
	$C_READER -i typed1
# shellcheck disable=SC2086
check "py: info shows the schema" 0 '"kind":"struct","schema":"float64 f64 \[m/s\]; int32 i32;' '^$' $PY_READER -i -j typed1
# The Python API: a dict, and the numpy dtype (with the first of python3
# and /usr/bin/python3 that has numpy).
check "py: read_decoded gives a dict" 0 '^ok$' '^$' python3 -c '
import math, sys
sys.path.insert(0, "clients/python")
import seqshm
with seqshm.open("typed1") as s:
    seq, d, t = s.read_decoded()
    assert seq == 1 and s.schema.kind == "struct" and s.schema.size == 136, (seq, s.schema)
    assert d["i32"] == -2147483647 and d["u64"] == 2**64 - 1 and d["ok"] is True, d
    assert d["frame"] == "base_lnk" and math.isnan(d["nan"]) and d["pinf"] == math.inf and d["ninf"] == -math.inf, d
    assert len(d["vec"]) == 3 and d["vec"][1] == -2.5 and d["pts"][1]["y"] == 3.25 and d["flags"] == [False, True], d
    spec = s.schema.dtype_spec()
    assert spec["itemsize"] == 136 and spec["names"][0] == "f64" and spec["formats"][0] == "<f8", spec
print("ok")'
NUMPY_PY=
for py in python3 /usr/bin/python3; do
	if "$py" -c 'import numpy' 2>/dev/null; then NUMPY_PY=$py; break; fi
done
if [[ -n $NUMPY_PY ]]; then
	# Every field read through np.frombuffer(value, Segment.dtype()) equals
	# the Go writer's own printout of the value it wrote, and the dict.
	crosscheck "py: numpy dtype ($NUMPY_PY)" "fields equal those Go wrote" "$NUMPY_PY" numpy typed1 "$WORK/typed.want"
elif [[ ${SEQSHM_REQUIRE_NUMPY:-} == 1 ]]; then
	fail "py: numpy dtype: fields equal those Go wrote" "SEQSHM_REQUIRE_NUMPY=1 and neither python3 ($(command -v python3 || echo 'not found')) nor /usr/bin/python3 can import numpy" \
		"install python3-numpy (bash scripts/install-deps.sh apt)"
else
	echo "skip  py: numpy dtype: neither python3 nor /usr/bin/python3 can import numpy (apt-get install python3-numpy; SEQSHM_REQUIRE_NUMPY=1 makes this a failure)"
fi

# ---- text and json segments ------------------------------------------------------

"$BIN/writer" kind text1 text 'héllo, wörld'
"$BIN/writer" kind json1 json '{"a":[1,2.5,null],"b":"x"}'
check_readers "text segment" 0 '^héllo, wörld$' '^$' text1
# shellcheck disable=SC2086
check "py: json segment as a parsed object" 0 '"value":\{"a":\[1,2.5,null\],"b":"x"\}' '^$' $PY_READER -j json1
# shellcheck disable=SC2086
check "c: json segment" 0 '"value":"\{\\"a\\":\[1,2.5,null\],\\"b\\":\\"x\\"\}"' '^$' $C_READER -j json1
check "py: decoded kinds are str and object" 0 '^ok$' '^$' python3 -c '
import sys
sys.path.insert(0, "clients/python")
import seqshm
assert seqshm.open("text1").read_decoded()[1] == "héllo, wörld"
assert seqshm.open("json1").read_decoded()[1] == {"a": [1, 2.5, None], "b": "x"}
assert seqshm.open("fixed1").read_decoded()[1] == "second value"  # the publisher CLI makes text segments
assert seqshm.open("crash1").read_decoded()[1] == b"last words"  # no schema: bytes
print("ok")'
# shellcheck disable=SC2086
check "c: info of a text segment" 0 'header size: +384.*schema: +text' '^$' $C_READER -i text1

# ---- huge capacities and the value limit ------------------------------------------

# A sparse file whose header claims 512 GiB: readers size their buffers from
# the value (5 bytes), not from the capacity. One whose slot claims 200 MiB
# is refused by the 64 MiB default limit, before anything is allocated.
if "$BIN/writer" huge huge1 $((1 << 39)) 5 2>"$WORK/huge.err" && "$BIN/writer" huge huge2 $((1 << 30)) $((200 << 20)) 2>>"$WORK/huge.err"; then
	for r in "${READERS[@]}"; do
		# qemu-user cannot map 512 GiB of guest address space.
		# shellcheck disable=SC2046
		[[ $r == arm64 ]] || check "$r: 512 GiB claimed, a 5-byte value" 0 '^small$' '^$' $(reader "$r") huge1
		# shellcheck disable=SC2046
		check "$r: a 200 MiB value beyond the 64 MiB limit" 1 '^$' \
			"huge2: value larger than the reader's limit: value of 209715200 bytes, the limit is 67108864" $(reader "$r") huge2
		# shellcheck disable=SC2046
		check "$r: -m sets the limit" 1 '^$' \
			"fixed1: value larger than the reader's limit: value of 12 bytes, the limit is 8" $(reader "$r") -m 8 fixed1
	done
else
	echo "skip  huge capacities: cannot make a sparse file here: $(head -c 300 "$WORK/huge.err")"
fi

# ---- damaged schema areas -------------------------------------------------------

# A struct segment whose schema area is damaged (clients/testdata/writer,
# schemaDamage): an error naming the schema area, never a crash.
for kind in record offset count arraylen length trailing nested fingerprint; do
	"$BIN/writer" badschema "badschema-$kind" "$kind"
	check_readers "damaged schema area ($kind)" 1 '^$' "^seqshm[-.a-z]*: badschema-$kind: corrupt segment: schema area: " \
		"badschema-$kind"
done

# ---- the PID namespace ------------------------------------------------------------

# shellcheck disable=SC2086
check "c: info gives the writer's PID namespace" 0 '"writer_pid_ns":[1-9][0-9]*,"pid_ns":[1-9][0-9]*,"pid_foreign":false' '^$' $C_READER -i -j fixed1
# shellcheck disable=SC2086
check "py: info gives the writer's PID namespace" 0 '"writer_pid_ns":[1-9][0-9]*,"pid_ns":[1-9][0-9]*,"pid_foreign":false' '^$' $PY_READER -i -j fixed1

# ---- missing segments, things that are not segments, bad usage -------------------

check_readers "missing segment" 1 '^$' '^seqshm[-.a-z]*: nothing-here: no such segment in ' nothing-here
check_readers "invalid name" 1 '^$' 'seqshm[-.a-z]*: \.\./etc: invalid segment name' ../etc
ln -s "$SEQSHM_DIR/fixed1" "$SEQSHM_DIR/link1"
mkfifo "$SEQSHM_DIR/fifo1"
for r in c py; do
	# shellcheck disable=SC2046
	check "$r: symbolic link not followed" 1 '^$' 'link1: not a segment.*symbolic link' $(reader "$r") link1
	# shellcheck disable=SC2046
	check "$r: FIFO refused without blocking" 1 '^$' 'fifo1: not a segment.*not a regular file' timeout 5 $(reader "$r") fifo1
	# shellcheck disable=SC2046
	check "$r: usage error" 2 '^$' 'usage: ' $(reader "$r")
done

# ---- the header decoder and reader against random headers -----------------------

if step "build: gcc ${CFLAGS[*]} fuzz_header.c" gcc "${CFLAGS[@]}" -o "$BIN/fuzz_header" clients/c/fuzz_header.c; then
	check "c: 200000 random headers and schema encodings, no read outside the mapping" 0 \
		'^rounds 200000 accepted [1-9][0-9]* values [0-9]+
schema rounds 200000 accepted [1-9][0-9]* reads [1-9]' '^$' \
		"$BIN/fuzz_header" 200000 200000
fi
if [[ -n $ARM ]] && step "build: aarch64-linux-gnu-gcc ${CFLAGS[*]} fuzz_header.c" \
	aarch64-linux-gnu-gcc "${CFLAGS[@]}" -o "$BIN/fuzz_header-arm64" clients/c/fuzz_header.c; then
	# shellcheck disable=SC2086
	check "arm64: 20000 random headers, no read outside the mapping" 0 '^rounds 20000 accepted [1-9]' '^$' \
		${ARM%/seqshm-cat-arm64}/fuzz_header-arm64 20000 20000
fi

echo "$passed passed, $failed failed"
((failed == 0))
