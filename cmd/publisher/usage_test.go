package main

import (
	"flag"
	"strings"
	"testing"
)

// TestUsageNamesEveryFlag: the manual (-h) documents every flag, in its
// Options list and in the synopsis.
func TestUsageNamesEveryFlag(t *testing.T) {
	flags(&config{}).VisitAll(func(f *flag.Flag) {
		if !strings.Contains(usage, "\n    -"+f.Name+" ") {
			t.Errorf("usage has no Options entry for -%s", f.Name)
		}
		if !strings.Contains(synopsis, "-"+f.Name) {
			t.Errorf("synopsis does not mention -%s", f.Name)
		}
	})
}
