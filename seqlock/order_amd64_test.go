//go:build !race

package seqlock

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCompiledWriteOrder checks, on the code the compiler produces for this
// package (built here with symbols: go test strips its binaries), what the
// amd64 argument of docs/memory-model.md assumes of the compiler: in
// Writer.write (the Go write path, for slots too large for the assembly)
// the odd counter store (the inlined body of commitWrite) and the odd slot
// word store (beginWrite) come before the payload copy (the call to
// runtime.memmove), and the even slot word and counter stores (commitWrite)
// after it, in that order, none eliminated or moved. A Go release that
// changed this would fail here rather than tear values.
func TestCompiledWriteOrder(t *testing.T) {
	begin, commit := sourceLine(t, "order_amd64.go", "func beginWrite("), sourceLine(t, "order_amd64.go", "func commitWrite(")
	bin := filepath.Join(t.TempDir(), "seqlock.test")
	if out, err := exec.Command("go", "test", "-c", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go test -c: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "tool", "objdump", "-s", `seqlock\.\(\*Writer\)\.write$`, bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool objdump: %v\n%s", err, out)
	}
	insn := regexp.MustCompile(`^\s*(\S+:\d+)\s+0x[0-9a-f]+\s+[0-9a-f]+\s+(.+?)\s*$`)
	store := regexp.MustCompile(`^MOVQ \w+, 0\(\w+\)$`)
	var events []string
	for _, line := range strings.Split(string(out), "\n") {
		m := insn.FindStringSubmatch(line)
		switch {
		case m == nil:
		case m[1] == begin && store.MatchString(m[2]):
			events = append(events, "beginWrite")
		case m[1] == commit && store.MatchString(m[2]):
			events = append(events, "commitWrite")
		case strings.Contains(m[2], "CALL runtime.memmove"):
			events = append(events, "memmove")
		}
	}
	const want = "commitWrite beginWrite memmove commitWrite commitWrite"
	if got := strings.Join(events, " "); got != want {
		t.Errorf("Writer.write's stores of the counter and slot word (%s, %s) and payload copy compiled in the order %q, want %q\n%s", begin, commit, got, want, out)
	}
}

// TestAssemblyArgumentsDoNotEscape checks the promise that the //go:noescape
// declarations of writeValue and readValue make for the Go functions
// slot_amd64.s jumps to with the same arguments: escape analysis must find
// that none of them lets its pointer arguments escape. If one ever did,
// callers' buffers would stay on their stacks while the Go code kept a
// pointer to them.
func TestAssemblyArgumentsDoNotEscape(t *testing.T) {
	out, err := exec.Command("go", "build", "-gcflags=-m=2", "-o", os.DevNull, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build -gcflags=-m=2: %v\n%s", err, out)
	}
	for _, fn := range []struct {
		file, decl string
		params     []string
	}{
		{"reader.go", "func readSlow(", []string{"r", "buf"}},
		{"writer.go", "func writeSlow(", []string{"w", "p"}},
		{"writer.go", "func writeWake(", []string{"w"}},
		{"fence.go", "func writeQuiet(", []string{"w"}},
	} {
		at := "./" + sourceLine(t, fn.file, fn.decl) + ":"
		for _, param := range fn.params {
			want := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(at) + `\d+: ` + param + ` does not escape$`)
			if !want.Match(out) {
				t.Errorf("%s: escape analysis does not say %q does not escape (want a line %q)", fn.decl, param, want)
			}
		}
	}
}

// sourceLine returns "file:line" of the first line of file starting with
// prefix.
func sourceLine(t *testing.T, file, prefix string) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if strings.HasPrefix(sc.Text(), prefix) {
			return fmt.Sprintf("%s:%d", file, n)
		}
	}
	t.Fatalf("%s has no line starting with %q", file, prefix)
	return ""
}
