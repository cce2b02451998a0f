//go:build unix && !race

package reliability_test

const raceEnabled = false
