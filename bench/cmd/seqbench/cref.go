package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/seqshm/seqshm/shmfile"
)

// findCSource locates bench/c/seqref.c: from the working directory (the
// bench module or the repository root), else next to this source file as
// compiled (go run without -trimpath).
func findCSource() (string, error) {
	cands := []string{"c/seqref.c", "bench/c/seqref.c"}
	if _, file, _, ok := runtime.Caller(0); ok {
		cands = append(cands, filepath.Join(filepath.Dir(file), "..", "..", "c", "seqref.c"))
	}
	for _, p := range cands {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("cannot find bench/c/seqref.c (tried %s); run from the repository root or bench/", strings.Join(cands, ", "))
}

// buildC builds the C reference (bench/c/seqref.c) with gcc -O2 into the
// temporary directory.
func buildC(ctx context.Context, c *config) (gccVersion string, err error) {
	src, err := findCSource()
	if err != nil {
		return "", err
	}
	c.seqref = filepath.Join(c.tmp, "seqref")
	out, err := exec.CommandContext(ctx, "gcc", "-O2", "-o", c.seqref, src).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("gcc -O2 seqref.c: %w\n%s", err, out)
	}
	v, _ := exec.CommandContext(ctx, "gcc", "-dumpfullversion").Output()
	return "gcc " + strings.TrimSpace(string(v)) + " -O2 (the seqref binary; the in-process C loops through cgo with its CC and -O2)", nil
}

// cPingPong runs one ping-pong of the C reference and returns its round
// trips in nanoseconds.
func cPingPong(ctx context.Context, c *config, mode string, size, iters, warmup int) ([]int64, error) {
	out := filepath.Join(c.tmp, "c-"+mode+".bin")
	cmd := exec.CommandContext(ctx, c.seqref, mode, strconv.Itoa(size), strconv.Itoa(iters), strconv.Itoa(warmup),
		strconv.Itoa(c.cpus[0]), strconv.Itoa(c.cpus[1]), shmfile.Dir(), out)
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("seqref %s: %w\n%s", mode, err, b)
	}
	return readSamples(out, iters)
}

// cCheck reads the named segment with the C reader: proof that the C
// reference uses the same layout as the Go writer.
func cCheck(ctx context.Context, c *config, name string) (seq uint64, payload []byte, err error) {
	out, err := exec.CommandContext(ctx, c.seqref, "check", filepath.Join(shmfile.Dir(), name)).Output()
	if err != nil {
		return 0, nil, fmt.Errorf("seqref check: %w", exitDetail(err))
	}
	var n int
	var hexs string
	if _, err := fmt.Sscanf(string(out), "%d %d %s", &seq, &n, &hexs); err != nil && n != 0 {
		return 0, nil, fmt.Errorf("seqref check: output %q: %w", out, err)
	}
	payload = make([]byte, n)
	if _, err := fmt.Sscanf(hexs, "%x", &payload); err != nil && n != 0 {
		return 0, nil, fmt.Errorf("seqref check: payload %q: %w", hexs, err)
	}
	return seq, payload, nil
}

func readSamples(path string, want int) ([]int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	os.Remove(path)
	if len(b) != 8*want {
		return nil, fmt.Errorf("%s: %d bytes of samples, want %d", path, len(b), 8*want)
	}
	s := make([]int64, want)
	for i := range s {
		s[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return s, nil
}

func writeSamples(path string, s []int64) error {
	b := make([]byte, 0, 8*len(s))
	for _, v := range s {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	return os.WriteFile(path, b, 0o644)
}

func exitDetail(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
	}
	return err
}
