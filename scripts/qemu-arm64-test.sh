#!/usr/bin/env bash
# Cross-compile one Go package's tests for linux/arm64 and run them under
# qemu-user (qemu-aarch64).
#
# Usage: scripts/qemu-arm64-test.sh PKG [go test flags...] [-- raw test-binary args...]
#   PKG            one package, as `go test` takes it (./internal/foo, internal/foo,
#                  or an import path), resolved from the current directory.
#   test flags     -run/-skip/-count/-timeout/-v/-short/-failfast/-bench/...
#                  (rewritten to -test.*), -test.* flags passed as is.
#   build flags    -tags/-ldflags/-gcflags/-trimpath/... go to `go test -c`.
#   -test.v is always passed. Default -test.timeout=10m (like go test).
#
# Environment:
#   QEMU_AARCH64            qemu binary (default: qemu-aarch64, else qemu-aarch64-static)
#   QEMU_TEST_HARD_TIMEOUT  outer kill timeout (default 20m)
#   QEMU_TEST_KEEP=1        keep the temp dir with the test binary
#
# The binary is built with CGO_ENABLED=0 (static), so no -L sysroot is needed.
# Child processes: when a test re-executes os.Args[0], the kernel must know
# how to run an arm64 ELF. Without a binfmt_misc registration for qemu-aarch64
# (qemu-user-binfmt, needs binfmt_misc mounted) that exec fails with
# "exec format error": such tests need that registration (or a -run filter
# that leaves them out).
#
# Known qemu-user 7.2 gap: a SIGBUS from touching a truncated mmap arrives with
# si_addr=0, so with debug.SetPanicOnFault the recovered value is a plain
# runtime error ("invalid memory address or nil pointer dereference") with NO
# Addr() method (natively it has Addr()). Code that demands Addr() fails here.
#
# Exit status: the test binary's exit status; 2 on usage or setup errors.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib/gotest-common.sh
source "$SCRIPT_DIR/lib/gotest-common.sh"

gotest_setup "${BASH_SOURCE[0]}" "$@"

command -v go >/dev/null 2>&1 || die "'go' not found"
QEMU=${QEMU_AARCH64:-}
if [[ -z $QEMU ]]; then
    QEMU=$(command -v qemu-aarch64 || command -v qemu-aarch64-static || true)
fi
[[ -n $QEMU ]] && command -v "$QEMU" >/dev/null 2>&1 ||
    die "qemu-aarch64 not found; run scripts/install-deps.sh"
QEMU=$(command -v "$QEMU")

T0=$(now_ms)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/qemu-arm64-test.XXXXXX")
cleanup() { if [[ ${QEMU_TEST_KEEP:-0} == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi; }
trap cleanup EXIT

export CGO_ENABLED=0
BIN="$TMP/pkg.test"
build_test_binary linux arm64 "$BIN"

if [[ -r /proc/sys/fs/binfmt_misc/qemu-aarch64 ]] &&
    grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64; then
    log "binfmt_misc: qemu-aarch64 registered (arm64 child processes exec directly)"
else
    log "binfmt_misc: no qemu-aarch64 handler; tests that re-execute themselves cannot run"
fi
log "running (cwd $PKG_DIR): $(basename "$QEMU") pkg.test -test.v ${TEST_ARGS[*]}"
run_test_binary "linux/arm64 under qemu" "${QEMU_TEST_HARD_TIMEOUT:-20m}" "$QEMU" "$BIN"
