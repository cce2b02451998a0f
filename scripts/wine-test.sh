#!/usr/bin/env bash
# Cross-compile one Go package's tests for windows/amd64 and run them under Wine.
#
# Usage: scripts/wine-test.sh PKG [go test flags...] [-- raw test-binary args...]
#   PKG            one package, as `go test` takes it (./internal/foo, internal/foo,
#                  or an import path), resolved from the current directory.
#   test flags     -run/-skip/-count/-timeout/-v/-short/-failfast/-bench/...
#                  (rewritten to -test.*), -test.* flags passed as is.
#   build flags    -tags/-ldflags/-gcflags/-trimpath/... go to `go test -c`.
#   -test.v is always passed. Default -test.timeout=10m (like go test).
#
# Environment:
#   WINE_TEST_PREFIX        wine prefix to use/create
#                           (default ${XDG_CACHE_HOME:-$HOME/.cache}/seqshm/wine-prefix)
#   WINE_TEST_HARD_TIMEOUT  outer kill timeout for the wine process (default 20m)
#   WINE_TEST_KEEP=1        keep the temp dir with the .exe
#
# Segments: Windows segments are files (in %LOCALAPPDATA%\seqshm unless
# SEQSHM_DIR says otherwise) and outlive the processes, so each run gets a
# fresh SEQSHM_DIR inside its temp dir (Z:\tmp\wine-test.XXXXXX\seqshm),
# removed afterwards; set SEQSHM_DIR yourself to override. The run uses
# umask 077: wine keeps no DACLs but turns them into Unix permission bits,
# and gives files created without a security descriptor a DACL derived from
# the umask; 077 gives them the owner-only default of a Windows profile
# directory (otherwise "Everyone: read", which OpenWriter's trust check
# rejects).
#
# Known gap:
# Go 1.26's os.RemoveAll (hence t.TempDir cleanup) fails under wine 8 with
# "unlinkat C:\users\...\001: Invalid function." because wine's
# NtSetInformationFile(FileDispositionInformationEx) returns
# STATUS_NOT_IMPLEMENTED (0xc0000002), on which Go does not fall back.
# os.Remove (DeleteFileW) works, so a walk + os.Remove cleanup is a workaround.
#
# Exit status: the test binary's exit status (non-zero on failure); 2 on usage
# or setup errors.
#
# Why the DLL: Go >= 1.22 Windows binaries need ProcessPrng from
# bcryptprimitives.dll, which Debian 12's wine 8.0 lacks ("fatal error:
# bcryptprimitives.dll not found"). scripts/wine/processprng.c provides it.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib/gotest-common.sh
source "$SCRIPT_DIR/lib/gotest-common.sh"

gotest_setup "${BASH_SOURCE[0]}" "$@"

for tool in go wine wineboot wineserver x86_64-w64-mingw32-gcc flock; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found; run scripts/install-deps.sh"
done

# Headless, quiet, no Mono/Gecko install prompts (scripts/wine/prefix.sh).
# shellcheck source=scripts/wine/prefix.sh
source "$SCRIPT_DIR/wine/prefix.sh"

T0=$(now_ms)

# ---- 1. build the test binary (first, to fail fast) ------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wine-test.XXXXXX")
cleanup() { if [[ ${WINE_TEST_KEEP:-0} == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi; }
trap cleanup EXIT

EXE="$TMP/pkg.test.exe"
build_test_binary windows amd64 "$EXE"

# ---- 2-3. wine prefix and the bcryptprimitives.dll shim ---------------------
wine_prefix_setup

# ---- 4. run it under wine --------------------------------------------------
umask 077
if [[ -z ${SEQSHM_DIR:-} ]]; then
    mkdir -p "$TMP/seqshm"
    export SEQSHM_DIR="Z:${TMP//\//\\}\\seqshm"
fi
# Pre-start wineserver and its helper processes (winedevice.exe, ...) with
# stdio on /dev/null. Otherwise the helpers started by the test's own wine
# inherit the `| tee` pipe and hold it open until wineserver's idle exit,
# which adds ~3s to every run.
wine cmd /c exit 0 </dev/null >/dev/null 2>&1 || true
log "running (cwd $PKG_DIR): wine pkg.test.exe -test.v ${TEST_ARGS[*]}"
run_test_binary "windows/amd64 under wine" "${WINE_TEST_HARD_TIMEOUT:-20m}" wine "$EXE"
