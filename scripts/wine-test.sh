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

# Headless, quiet, no Mono/Gecko install prompts.
unset DISPLAY WAYLAND_DISPLAY
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml=${WINEDLLOVERRIDES:+;$WINEDLLOVERRIDES}"
export WINEARCH=win64
CACHE_ROOT=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/seqshm
export WINEPREFIX=${WINE_TEST_PREFIX:-$CACHE_ROOT/wine-prefix}

T0=$(now_ms)

# ---- 1. build the test binary (first, to fail fast) ------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wine-test.XXXXXX")
cleanup() { if [[ ${WINE_TEST_KEEP:-0} == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi; }
trap cleanup EXIT

EXE="$TMP/pkg.test.exe"
build_test_binary windows amd64 "$EXE"

# ---- 2. wine prefix (created once, reused; guarded by a lock) -------------
mkdir -p "$(dirname "$WINEPREFIX")"
exec 9>"$WINEPREFIX.lock"
flock 9
WINE_VERSION=$(wine --version 2>/dev/null || echo unknown)
STAMP="$WINEPREFIX/.seqshm-prefix-ok"
if [[ ! -f $STAMP || $(cat "$STAMP") != "$WINE_VERSION" ]]; then
    t=$(now_ms)
    log "creating wine prefix $WINEPREFIX ($WINE_VERSION, headless)"
    rm -rf "$WINEPREFIX"
    # wineboot -i initialises the prefix; its "wine32 missing"/syswow64
    # messages are harmless for 64-bit-only use.
    wineboot -i </dev/null >"$WINEPREFIX.boot.log" 2>&1 || {
        cat "$WINEPREFIX.boot.log" >&2
        die "wineboot -i failed"
    }
    wineserver -w # flush the registry to disk before we call it done
    [[ -d $WINEPREFIX/drive_c/windows/system32 ]] || die "wineboot did not create drive_c/windows/system32"
    # Does this wine ship its own bcryptprimitives (wine >= 9)? Then keep it.
    if [[ -f $WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll ]]; then
        touch "$WINEPREFIX/.seqshm-builtin-bcryptprimitives"
    fi
    printf '%s' "$WINE_VERSION" >"$STAMP"
    log "wine prefix ready in $(elapsed "$t")"
else
    log "reusing wine prefix $WINEPREFIX ($WINE_VERSION)"
fi

# ---- 3. bcryptprimitives.dll shim -----------------------------------------
if [[ ! -f $WINEPREFIX/.seqshm-builtin-bcryptprimitives ]]; then
    DLL_SRC="$SCRIPT_DIR/wine/processprng.c"
    DLL_DEF="$SCRIPT_DIR/wine/processprng.def"
    DLL_OUT="$WINEPREFIX/.seqshm-bcryptprimitives.dll"
    DLL_DST="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
    if [[ ! -f $DLL_OUT || $DLL_SRC -nt $DLL_OUT || $DLL_DEF -nt $DLL_OUT ]]; then
        log "building bcryptprimitives.dll (ProcessPrng -> advapi32!SystemFunction036)"
        x86_64-w64-mingw32-gcc -O2 -s -shared -o "$DLL_OUT.tmp" \
            "$DLL_SRC" "$DLL_DEF" -ladvapi32
        mv -f "$DLL_OUT.tmp" "$DLL_OUT"
    fi
    if ! cmp -s "$DLL_OUT" "$DLL_DST"; then
        log "installing bcryptprimitives.dll into $DLL_DST"
        cp -f "$DLL_OUT" "$DLL_DST"
    fi
fi
flock -u 9

# ---- 4. run it under wine --------------------------------------------------
# Pre-start wineserver and its helper processes (winedevice.exe, ...) with
# stdio on /dev/null. Otherwise the helpers started by the test's own wine
# inherit the `| tee` pipe and hold it open until wineserver's idle exit,
# which adds ~3s to every run.
wine cmd /c exit 0 </dev/null >/dev/null 2>&1 || true
log "running (cwd $PKG_DIR): wine pkg.test.exe -test.v ${TEST_ARGS[*]}"
run_test_binary "windows/amd64 under wine" "${WINE_TEST_HARD_TIMEOUT:-20m}" wine "$EXE"
