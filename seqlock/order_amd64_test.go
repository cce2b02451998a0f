//go:build !race

package seqlock

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestCompiledWriteOrder checks, on the code the compiler produces for this
// package (built here with symbols: go test strips its binaries), what the amd64 argument of docs/memory-model.md assumes of
// the compiler: in WriteAt the odd counter store comes before the payload
// copy (the call to runtime.memmove) and the even counter store after it,
// neither eliminated nor moved. A Go release that changed this would fail
// here rather than tear values silently.
func TestCompiledWriteOrder(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "seqlock.test")
	if out, err := exec.Command("go", "test", "-c", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go test -c: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "tool", "objdump", "-s", `seqlock\.\(\*Writer\)\.WriteAt$`, bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool objdump: %v\n%s", err, out)
	}
	field, _ := reflect.TypeFor[Writer]().FieldByName("seq")
	loadSeq := regexp.MustCompile(fmt.Sprintf(`^MOVQ %#x\((\w+)\), (\w+)$`, field.Offset))
	store := regexp.MustCompile(`^MOVQ \w+, 0\((\w+)\)$`)
	insn := regexp.MustCompile(`^\s*\S+:\d+\s+0x[0-9a-f]+\s+[0-9a-f]+\s+(.+?)\s*$`)

	// Walk the instructions, tracking which registers hold w.seq.
	var events []string
	seqRegs := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		m := insn.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		in := m[1]
		switch {
		case strings.HasPrefix(in, "CALL "):
			if strings.Contains(in, "runtime.memmove") {
				events = append(events, "memmove")
			}
			clear(seqRegs)
		case loadSeq.MatchString(in):
			seqRegs[loadSeq.FindStringSubmatch(in)[2]] = true
		case store.MatchString(in) && seqRegs[store.FindStringSubmatch(in)[1]]:
			events = append(events, "store")
		default:
			// Any other instruction writing a register ends its role.
			if i := strings.LastIndex(in, ", "); i >= 0 {
				delete(seqRegs, in[i+2:])
			}
		}
	}
	got := strings.Join(events, " ")
	if !regexp.MustCompile(`(^| )store memmove( memmove)* store( |$)`).MatchString(got) {
		t.Errorf("WriteAt's counter stores and payload copy compiled in the order %q, want a store, the memmove, then a store\n%s", got, out)
	}
}
