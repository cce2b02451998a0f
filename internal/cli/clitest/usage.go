package clitest

import (
	"flag"
	"strings"
	"testing"
)

// UsageNamesEveryFlag fails t unless the manual documents every flag of
// fs: an Options entry ("\n    -name ") in usage, and a mention in synopsis.
func UsageNamesEveryFlag(t *testing.T, fs *flag.FlagSet, synopsis, usage string) {
	t.Helper()
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(usage, "\n    -"+f.Name+" ") {
			t.Errorf("usage has no Options entry for -%s", f.Name)
		}
		if !strings.Contains(synopsis, "-"+f.Name) {
			t.Errorf("synopsis does not mention -%s", f.Name)
		}
	})
}
