#!/usr/bin/env bash
# Runs the seqshm benchmark harness: builds the C reference (gcc -O2) and the
# Go harness, runs every contender interleaved for several rounds and prints
# the table; results go to bench/out/. Flags go to seqbench, e.g.
#   bash bench/run.sh -quick      # end-to-end check (CI), seconds once built; no timing asserts
#   bash bench/run.sh -gotest     # also go test -bench ./seqlock (+ two sizes under -race)
#   bash bench/run.sh -xuser U1,U2 # as root: also the Wait pair as two other users (foreign waiter area)
#   bash bench/run.sh -alt NAME=EXE  # also the Go pairs of another checkout's seqbench, interleaved
# bench/ is its own module (gonum/plot stays out of the core's go.mod).
set -euo pipefail
cd "$(dirname "$0")"
exec go run ./cmd/seqbench "$@"
