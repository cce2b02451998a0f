# shellcheck shell=bash
# Shared helpers for scripts/wine-test.sh and scripts/qemu-arm64-test.sh.
# Source it; do not execute it.
#
# Splits "go test"-style arguments into
#   BUILD_ARGS  - flags for `go test -c` (-tags, -ldflags, -gcflags, ...)
#   TEST_ARGS   - flags for the compiled test binary (-run X -> -test.run=X)
# Everything after a literal "--" is passed to the test binary verbatim
# (for custom flags defined by the tests themselves).

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 2; }

# Test-binary flags that take a value.
_GT_TEST_VALUE_FLAGS=" run skip count timeout bench benchtime cpu parallel shuffle list
  coverprofile cpuprofile memprofile memprofilerate blockprofile blockprofilerate
  mutexprofile mutexprofilefraction outputdir trace fuzz fuzztime fuzzminimizetime "
# Test-binary boolean flags.
_GT_TEST_BOOL_FLAGS=" v short failfast benchmem fullpath paniconexit0 json "
# `go test -c` build flags that take a value.
_GT_BUILD_VALUE_FLAGS=" tags ldflags gcflags asmflags mod modfile overlay pgo p
  toolexec covermode coverpkg "
# `go test -c` boolean build flags.
_GT_BUILD_BOOL_FLAGS=" a n x work trimpath cover race msan asan buildvcs linkshared "

BUILD_ARGS=()
TEST_ARGS=()
HAVE_TIMEOUT=0
HAVE_LIST=0

parse_gotest_args() {
    local arg name value
    while (($#)); do
        arg=$1
        shift
        if [[ $arg == -- ]]; then
            TEST_ARGS+=("$@")
            return 0
        fi
        if [[ $arg != -* ]]; then
            die "unexpected argument '$arg' (only one package may be given; use -- to pass raw args to the test binary)"
        fi
        name=${arg#-}
        name=${name#-}
        value=
        local has_value=0
        if [[ $name == *=* ]]; then
            value=${name#*=}
            name=${name%%=*}
            has_value=1
        fi
        # Already in test-binary form: pass through (and its value if separate).
        if [[ $name == test.* ]]; then
            local short=${name#test.}
            [[ $short == timeout ]] && HAVE_TIMEOUT=1
            [[ $short == list ]] && HAVE_LIST=1
            TEST_ARGS+=("$arg")
            if ((!has_value)) && [[ $_GT_TEST_VALUE_FLAGS == *" $short "* ]] && (($#)); then
                TEST_ARGS+=("$1")
                shift
            fi
            continue
        fi
        if [[ $_GT_TEST_VALUE_FLAGS == *" $name "* ]]; then
            if ((!has_value)); then
                (($#)) || die "flag -$name needs a value"
                value=$1
                shift
            fi
            [[ $name == timeout ]] && HAVE_TIMEOUT=1
            [[ $name == list ]] && HAVE_LIST=1
            TEST_ARGS+=("-test.$name=$value")
        elif [[ $_GT_TEST_BOOL_FLAGS == *" $name "* ]]; then
            if [[ $name == json ]]; then
                die "-json is not supported (pipe the output through 'go tool test2json' instead)"
            fi
            if ((has_value)); then
                TEST_ARGS+=("-test.$name=$value")
            else
                TEST_ARGS+=("-test.$name")
            fi
        elif [[ $_GT_BUILD_VALUE_FLAGS == *" $name "* ]]; then
            if ((!has_value)); then
                (($#)) || die "flag -$name needs a value"
                value=$1
                shift
            fi
            BUILD_ARGS+=("-$name=$value")
        elif [[ $_GT_BUILD_BOOL_FLAGS == *" $name "* ]]; then
            BUILD_ARGS+=("$arg")
        else
            die "unknown flag '$arg' (pass raw test-binary args after --)"
        fi
    done
}

# normalize_pkg PKG: turn "internal/foo" (a directory) into "./internal/foo";
# leave "./x", "../x", "/abs/x" and import paths alone.
normalize_pkg() {
    local pkg=$1
    case $pkg in
        ./* | ../* | /* | .) printf '%s\n' "$pkg" ;;
        *)
            if [[ -d $pkg ]]; then
                printf './%s\n' "$pkg"
            else
                printf '%s\n' "$pkg"
            fi
            ;;
    esac
}

# fmt_secs START_SECONDS: elapsed time since START (bash $SECONDS is too coarse).
now_ms() { date +%s%3N; }
elapsed() { local s=$1 e; e=$(now_ms); printf '%d.%03ds' $(((e - s) / 1000)) $(((e - s) % 1000)); }

# check_test_output FILE RC: a zero exit from an emulator without a final
# PASS line is suspicious (e.g. a crash code truncated to 0 mod 256); treat
# it as failure. Prints the resulting exit code.
check_test_output() {
    local out=$1 rc=$2
    if ((rc == 0)) && ((!HAVE_LIST)) && ! grep -qx 'PASS' "$out"; then
        printf 'error: test binary exited 0 but printed no final PASS line; treating as failure\n' >&2
        rc=1
    fi
    printf '%d\n' "$rc"
}

# gotest_setup SCRIPT ARGS...: the common start of a runner script. Prints
# SCRIPT's header comment as usage on -h or no arguments, then sets PKG
# (first argument) and TEST_ARGS/BUILD_ARGS (the rest; -test.timeout=10m
# unless given).
gotest_setup() {
    local script=$1
    shift
    if (($# == 0)) || [[ $1 == -h || $1 == --help ]]; then
        awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$script" >&2
        exit 2
    fi
    PKG=$(normalize_pkg "$1")
    shift
    parse_gotest_args "$@"
    ((HAVE_TIMEOUT)) || TEST_ARGS=(-test.timeout=10m "${TEST_ARGS[@]}")
}

# build_test_binary GOOS GOARCH OUT: sets PKG_DIR and PKG_PATH for PKG on
# that platform and builds its test binary into OUT (go test -c
# BUILD_ARGS); for a package without tests it prints go test's "no test
# files" line and exits 0.
build_test_binary() {
    local goos=$1 goarch=$2 out=$3 t
    PKG_DIR=$(GOOS=$goos GOARCH=$goarch go list -f '{{.Dir}}' "$PKG")
    PKG_PATH=$(GOOS=$goos GOARCH=$goarch go list -f '{{.ImportPath}}' "$PKG")
    t=$(now_ms)
    log "building: GOOS=$goos GOARCH=$goarch go test -c -o $out ${BUILD_ARGS[*]-} $PKG"
    GOOS=$goos GOARCH=$goarch go test -c -o "$out" "${BUILD_ARGS[@]}" "$PKG"
    if [[ ! -f $out ]]; then
        # go test -c writes nothing for a package without test files.
        log "no test files in $PKG_PATH"
        printf '?   \t%s\t[no test files]\n' "$PKG_PATH"
        exit 0
    fi
    log "built in $(elapsed "$t")"
}

# run_test_binary WHERE HARD_TIMEOUT CMD...: runs CMD -test.v TEST_ARGS in
# PKG_DIR under an outer timeout, output teed to $TMP/out.txt; prints a
# go test-style ok/FAIL line for PKG_PATH ("WHERE" names the platform, e.g.
# "windows/amd64 under wine") and exits with the test binary's status.
# Needs PKG_DIR, PKG_PATH, TMP and T0.
run_test_binary() {
    local where=$1 hard=$2 t rc
    shift 2
    t=$(now_ms)
    set +e
    (cd "$PKG_DIR" && timeout --kill-after=30s "$hard" "$@" -test.v "${TEST_ARGS[@]}" </dev/null) 2>&1 | tee "$TMP/out.txt"
    rc=${PIPESTATUS[0]}
    set -e
    ((rc == 124 || rc == 137)) && log "the run hit its outer timeout ($hard)"
    rc=$(check_test_output "$TMP/out.txt" "$rc")
    if ((rc == 0)); then
        printf 'ok  \t%s\t%s\t(%s; total %s)\n' "$PKG_PATH" "$(elapsed "$t")" "$where" "$(elapsed "$T0")"
    else
        printf 'FAIL\t%s\t%s\t(%s, exit %d)\n' "$PKG_PATH" "$(elapsed "$t")" "$where" "$rc"
    fi
    exit "$rc"
}
