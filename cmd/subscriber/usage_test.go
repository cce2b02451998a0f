package main

import (
	"testing"

	"github.com/seqshm/seqshm/internal/cli/clitest"
)

// TestUsageNamesEveryFlag: the manual (-h) documents every flag, in its
// Options list and in the synopsis.
func TestUsageNamesEveryFlag(t *testing.T) {
	clitest.UsageNamesEveryFlag(t, flags(&config{}), synopsis, usage)
}
