#!/usr/bin/env bash
# go test -exec wrapper: run a linux/arm64 test binary under qemu-user.
#
#   GOARCH=arm64 go test -exec "$PWD/scripts/qemu-exec.sh" ./seqlock/ -run Stress
#
# go test builds the binary (CGO_ENABLED=0 by default when cross-compiling)
# and calls this script with its path and the test flags. QEMU_AARCH64 names
# the emulator (default: qemu-aarch64, else qemu-aarch64-static). Tests that
# re-execute os.Args[0] need a binfmt_misc registration for qemu-aarch64.
set -euo pipefail
qemu=${QEMU_AARCH64:-}
if [[ -z $qemu ]]; then
    if command -v qemu-aarch64 >/dev/null; then qemu=qemu-aarch64; else qemu=qemu-aarch64-static; fi
fi
exec "$qemu" "$@"
