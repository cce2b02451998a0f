#!/bin/sh
# bridge-test.sh: vet and test the bridge module (its own Go module under
# bridge/), with the race detector, then the 1,000-segment run (about 30 s
# more) and three runs of the latency ratio benchmark (BenchmarkLatencyRatio)
# that docs/bridge.md reports. Run from anywhere.
set -eu
cd "$(dirname "$0")/../bridge"
gofmt -l . | (! grep .) || { echo "gofmt: files above need formatting" >&2; exit 1; }
go vet ./...
go test -race -count=1 ./...
SEQSHM_BRIDGE_SCALE=1 go test -count=1 -run 'TestScale1000' -v ./cmd/seqshm-bridge/ | grep -E 'process|segments held|^(ok|FAIL|---)'
go test -run XXX -bench LatencyRatio -benchtime 5000x -count 3 ./natskv/ | grep '^Benchmark'
