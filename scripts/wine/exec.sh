#!/usr/bin/env bash
# go test -exec wrapper: run a windows/amd64 test binary under wine.
#
#   GOOS=windows go test -exec "$PWD/scripts/wine/exec.sh" ./seqlock/ -run Wait
#
# go test builds the .exe on Linux (go build does not run under wine) and
# calls this script with its path and the test flags. The wine prefix is
# made once and reused (scripts/wine/prefix.sh), with the
# bcryptprimitives.dll shim that Go >= 1.22 binaries need on wine 8
# (ProcessPrng, which Debian 12's wine 8.0 lacks).
#
# Segments: Windows segments are files (in %LOCALAPPDATA%\seqshm unless
# SEQSHM_DIR says otherwise) and outlive the processes, so each run gets a
# fresh SEQSHM_DIR, removed afterwards (set SEQSHM_DIR to override). The
# run uses umask 077: wine keeps no DACLs but turns them into Unix
# permission bits, and gives files created without a security descriptor a
# DACL derived from the umask; 077 gives them the owner-only default of a
# Windows profile directory (else "Everyone: read", which OpenWriter's trust
# check rejects).
#
# Known gap: Go 1.26's os.RemoveAll (hence t.TempDir cleanup) fails under
# wine 8 with "unlinkat ...: Invalid function." (wine returns
# STATUS_NOT_IMPLEMENTED for FileDispositionInformationEx and Go does not
# fall back); os.Remove works, so tests clean up file by file.
#
# Environment: WINE_TEST_PREFIX (see prefix.sh), WINE_TEST_HARD_TIMEOUT
# (outer kill timeout, default 20m).
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/wine/prefix.sh
source "$SCRIPT_DIR/wine/prefix.sh"
for tool in wine wineboot wineserver x86_64-w64-mingw32-gcc flock; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found; run scripts/install-deps.sh"
done
wine_prefix_setup >&2

umask 077
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wine-exec.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if [[ -z ${SEQSHM_DIR:-} ]]; then
    mkdir -p "$tmp/seqshm"
    export SEQSHM_DIR="Z:${tmp//\//\\}\\seqshm"
fi
# Pre-start wineserver and its helpers with stdio on /dev/null: otherwise
# helpers started by the test's own wine inherit go test's pipe and hold it
# open until wineserver's idle exit (about 3 s).
wine cmd /c exit 0 </dev/null >/dev/null 2>&1 || true
status=0
timeout --kill-after=30s "${WINE_TEST_HARD_TIMEOUT:-20m}" wine "$@" || status=$?
exit "$status"
