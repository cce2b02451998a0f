//go:build unix && race

package reliability_test

// raceEnabled: the race detector slows memory accesses (and the atomic
// copies it selects) by one to two orders of magnitude; tests that need
// large writes scale them down.
const raceEnabled = true
