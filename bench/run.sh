#!/usr/bin/env bash
# Runs the seqshm benchmark harness: builds the C reference (gcc -O2) and the
# Go harness, runs every contender interleaved for several rounds and prints
# the table; results go to bench/out/. Flags go to seqbench, e.g.
#   bash bench/run.sh -quick      # end-to-end check (CI), seconds once built; no timing asserts
#   bash bench/run.sh -gotest     # also go test -bench ./seqlock (+ two sizes under -race)
# bench/ is its own module (gonum/plot stays out of the core's go.mod).
set -euo pipefail
cd "$(dirname "$0")"
exec go run ./cmd/seqbench "$@"
