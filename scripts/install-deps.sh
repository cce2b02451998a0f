#!/usr/bin/env bash
# Install what the test harness needs. Idempotent: steps whose tools already
# exist are skipped.
#
# Usage: scripts/install-deps.sh [apt] [staticcheck]    (default: both)
#
#   apt          Debian packages (apt-get, run as root or via sudo):
#                  wine wine64           wine launcher + 64-bit loader (scripts/wine/exec.sh)
#                  qemu-user             qemu-aarch64 (scripts/qemu-exec.sh)
#                  gcc-mingw-w64-x86-64  builds the bcryptprimitives.dll shim
#                  gcc-aarch64-linux-gnu, libc6-dev-arm64-cross
#                                        the C reader's AArch64 build (clients/test.sh)
#                  prometheus            the server that scrapes the exporter in its test
#                  nats-server           a separate NATS server for the bridge's docs and tests
#                  python3-numpy         numpy for Debian's /usr/bin/python3: the Python
#                                        reader's numpy check (clients/test.sh)
#                Note: on Debian 12 `wine64` alone has no `wine`/`wineboot`
#                commands (only /usr/lib/wine/wine64); they come from `wine`,
#                which wine64 merely Recommends, so it is listed explicitly.
#   staticcheck  go install honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION
#                into $(go env GOPATH)/bin.
#
# Environment: STATICCHECK_VERSION (default below).
set -euo pipefail

STATICCHECK_VERSION=${STATICCHECK_VERSION:-v0.8.2} # = staticcheck 2026.2.2; supports Go 1.26

log() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
# have_numpy: a Python that clients/test.sh tries (python3, then
# /usr/bin/python3) can import numpy.
have_numpy() {
    local py
    for py in python3 /usr/bin/python3; do
        "$py" -c 'import numpy' >/dev/null 2>&1 && return 0
    done
    return 1
}
now_ms() { date +%s%3N; }
elapsed() { local s=$1 e; e=$(now_ms); printf '%d.%03ds' $(((e - s) / 1000)) $(((e - s) % 1000)); }

want_apt=0 want_sc=0
if (($# == 0)); then
    want_apt=1 want_sc=1
fi
for a in "$@"; do
    case $a in
        apt) want_apt=1 ;;
        staticcheck) want_sc=1 ;;
        -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) die "unknown component '$a' (want: apt, staticcheck)" ;;
    esac
done

T0=$(now_ms)

# ---- Debian packages --------------------------------------------------------
if ((want_apt)); then
    t=$(now_ms)
    pkgs=()
    if ! have wine || ! have wineboot || ! have wineserver; then
        pkgs+=(wine)
    fi
    if ! have wine64 && [[ ! -x /usr/lib/wine/wine64 ]]; then
        pkgs+=(wine64)
    fi
    if ! have qemu-aarch64 && ! have qemu-aarch64-static; then
        pkgs+=(qemu-user)
    fi
    if ! have x86_64-w64-mingw32-gcc; then
        pkgs+=(gcc-mingw-w64-x86-64)
    fi
    if ! have aarch64-linux-gnu-gcc; then
        pkgs+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross) # clients/test.sh: the C reader's AArch64 build
    fi
    if ! have prometheus; then
        pkgs+=(prometheus)
    fi
    if ! have nats-server; then
        pkgs+=(nats-server)
    fi
    if ! have_numpy; then
        pkgs+=(python3-numpy) # clients/test.sh: the Python reader's numpy check
    fi
    if ((${#pkgs[@]} == 0)); then
        log "apt: wine, wineboot, wine64, qemu-aarch64, mingw, prometheus, nats-server, numpy already present; skipping"
    else
        have apt-get || die "apt-get not found; install manually: ${pkgs[*]}"
        SUDO=()
        if ((EUID != 0)); then
            have sudo || die "not root and no sudo; install manually: ${pkgs[*]}"
            SUDO=(sudo -n)
        fi
        export DEBIAN_FRONTEND=noninteractive
        # Wait (instead of failing) if another apt/dpkg holds the lock.
        APT_OPTS=(-q -o DPkg::Lock::Timeout=900 -o Dpkg::Use-Pty=0)
        log "apt-get update"
        "${SUDO[@]}" apt-get "${APT_OPTS[@]}" update </dev/null
        log "apt-get install --no-install-recommends ${pkgs[*]}"
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" -y \
            --no-install-recommends install "${pkgs[@]}" </dev/null
        log "apt: done in $(elapsed "$t")"
    fi
    for tool in wine wineboot wineserver x86_64-w64-mingw32-gcc prometheus nats-server; do
        have "$tool" || die "$tool still missing after apt install"
    done
    have qemu-aarch64 || have qemu-aarch64-static || die "qemu-aarch64 still missing after apt install"
    have_numpy || die "numpy (python3-numpy) still missing after apt install"
    log "wine: $(wine --version 2>/dev/null || echo '?'); qemu: $( (qemu-aarch64 --version 2>/dev/null || qemu-aarch64-static --version) | head -1)"
fi

# ---- staticcheck ------------------------------------------------------------
if ((want_sc)); then
    t=$(now_ms)
    have go || die "go not found in PATH (expected e.g. /usr/local/go/bin)"
    GOBIN_DIR="$(go env GOPATH | cut -d: -f1)/bin"
    SC="$GOBIN_DIR/staticcheck"
    want_ver=${STATICCHECK_VERSION#v}
    if [[ -x $SC ]] && "$SC" -version 2>/dev/null | grep -qF "($want_ver)"; then
        log "staticcheck: $("$SC" -version) already at $SC; skipping"
    else
        log "go install honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION -> $GOBIN_DIR"
        # Run outside any module/workspace so the project's go.mod/GOFLAGS don't interfere.
        (cd "${TMPDIR:-/tmp}" && GOBIN=$GOBIN_DIR GOWORK=off GOFLAGS='' \
            go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION")
        log "staticcheck: $("$SC" -version) installed in $(elapsed "$t")"
    fi
    case ":$PATH:" in
        *":$GOBIN_DIR:"*) ;;
        *) log "note: $GOBIN_DIR is not in PATH; call $SC directly or add it" ;;
    esac
fi

log "install-deps: all done in $(elapsed "$T0")"
