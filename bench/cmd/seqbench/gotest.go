package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// goTest runs seqlock's own benchmarks (plain build, then two sizes under
// -race, whose copies are word-sized atomics) and returns their output.
func goTest(ctx context.Context, c *config, log io.Writer) (string, error) {
	dir, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/seqshm/seqshm").Output()
	if err != nil {
		return "", fmt.Errorf("locate the seqshm module: %w", exitDetail(err))
	}
	root := strings.TrimSpace(string(dir))
	count, benchtime := "5", "300ms"
	if c.quick {
		count, benchtime = "1", "20ms"
	}
	runs := [][]string{
		{"test", "-run", "^$", "-bench", "^Benchmark(Write|WriteStamped|Read|ReadParallel)$", "-benchmem", "-count", count, "-benchtime", benchtime, "./seqlock"},
		{"test", "-race", "-run", "^$", "-bench", "^Benchmark(Write|Read)$/^(64B|4KiB)$", "-benchmem", "-count", count, "-benchtime", benchtime, "./seqlock"},
	}
	var out bytes.Buffer
	for _, args := range runs {
		fmt.Fprintf(log, "seqbench: go %s\n", strings.Join(args, " "))
		fmt.Fprintf(&out, "$ go %s\n", strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = root
		b, err := cmd.CombinedOutput()
		out.Write(b)
		if err != nil {
			return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, b)
		}
	}
	return out.String(), nil
}
