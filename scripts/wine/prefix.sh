# shellcheck shell=bash
# The wine prefix of scripts/wine/exec.sh and scripts/wine/tools.sh: created
# once (headless, 64-bit) and reused, with the bcryptprimitives.dll shim that
# Go >= 1.22 binaries need on wine 8 (scripts/wine/processprng.c). Source it,
# then call wine_prefix_setup. Needs SCRIPT_DIR (the scripts directory);
# defines log, die, now_ms and elapsed for its users.
#
# Environment: WINE_TEST_PREFIX (default
# ${XDG_CACHE_HOME:-$HOME/.cache}/seqshm/wine-prefix).

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 2; }
now_ms() { date +%s%3N; }
elapsed() { local s=$1 e; e=$(now_ms); printf '%d.%03ds' $(((e - s) / 1000)) $(((e - s) % 1000)); }

unset DISPLAY WAYLAND_DISPLAY
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml=${WINEDLLOVERRIDES:+;$WINEDLLOVERRIDES}"
export WINEARCH=win64
export WINEPREFIX=${WINE_TEST_PREFIX:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/seqshm/wine-prefix}

wine_prefix_setup() {
    local t
    # The prefix: created once, reused; guarded by a lock.
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

    # The bcryptprimitives.dll shim.
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
}
