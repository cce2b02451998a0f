// Command seqbench measures seqshm against a C seqlock on the same layout
// and against the kernel's other ways of passing a value between processes
// (pipe, Unix socket, futex wake), interleaved in rounds so that a noisy
// machine moves every contender alike, and prints medians, p99s and ratios.
//
// Usage (from the repository root):
//
//	bash bench/run.sh            # full run, about a minute
//	bash bench/run.sh -quick     # end-to-end check for CI, seconds once built; numbers meaningless
//
// It writes out/results.md, out/results.json and out/latency.png under the
// bench directory (see -out). docs/benchmarks.md explains the method.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// childEnv, when set, makes this binary one side of a cross-process pair
// (see child.go) instead of the harness.
const childEnv = "SEQBENCH_CHILD"

func main() {
	if role := os.Getenv(childEnv); role != "" {
		if err := child(role, os.Args[1:]); err != nil {
			fmt.Fprintf(os.Stderr, "seqbench child %s: %v\n", role, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.As(err, new(usageError)):
		fmt.Fprintf(os.Stderr, "seqbench: %v\n", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintf(os.Stderr, "seqbench: %v\n", err)
		os.Exit(1)
	}
}

type usageError struct{ error }

// config is everything the flags decide.
type config struct {
	quick    bool
	rounds   int
	cpus     [2]int // the ping side on cpus[0]; the pong side and the in-process loops on cpus[1]
	outDir   string
	plotPath string
	sampleMS float64        // target duration of one in-process sample
	passes   int            // in-process samples per loop and round
	xpasses  int            // cross-process samples per pair and round
	run      *regexp.Regexp // -run: the contenders to run
	spin     pairSample     // round trips of one cross-process spin sample
	blocking pairSample     // and of one blocking sample
	gotest   bool
	tmp      string
	seqref   string // path of the built C reference
	taskset  string // path of taskset, which pins every thread of a Go pair process
	exe      string // this program, re-executed as a Go pair side
	alts     []altBuild
	xuser    [2]*syscall.Credential // -xuser: the users of the two sides of go-wait-xuser
	xuserExe string                 // a copy of this program that those users may run
	xuserDir string                 // where they write their samples
}

// An altBuild is another build of seqbench (-alt), whose Go pairs run beside
// this build's.
type altBuild struct{ name, exe string }

// pairSample is one cross-process sample: timed round trips after untimed
// warm-up ones.
type pairSample struct{ iters, warmup int }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("seqbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	cpus := fs.String("cpus", "0,1", "two CPUs: the ping side (and nothing else), then the pong side and in-process loops")
	fs.BoolVar(&c.quick, "quick", false, "end-to-end check in seconds once built (one short round; timings meaningless)")
	fs.IntVar(&c.rounds, "rounds", 11, "interleaved rounds; every contender runs once per round")
	fs.StringVar(&c.outDir, "out", "out", "directory for results.md, results.json and latency.png")
	fs.StringVar(&c.plotPath, "plot", "", "latency plot PNG (default OUT/latency.png)")
	runRE := fs.String("run", "", "run only the contenders whose key matches this regular expression (keys: results.json; e.g. -run '64B$' or -run spin)")
	fs.BoolVar(&c.gotest, "gotest", false, "also run seqlock's go test -bench (and two sizes under -race) and append them")
	alts := fs.String("alt", "", "NAME=EXE,...: also run the Go spin and Wait pairs of these builds of seqbench (other checkouts), back to back with this build's (keys go-spin-NAME, go-wait-NAME)")
	xusers := fs.String("xuser", "", "USER1,USER2: also run the Wait pair with its two sides as these two users (not root), on mode-0644 segments (key go-wait-xuser); needs root")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: seqbench [-quick] [-rounds N] [-run REGEXP] [-cpus A,B] [-out DIR] [-plot FILE] [-gotest] [-alt NAME=EXE,...] [-xuser USER1,USER2]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() != 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	var err error
	if c.run, err = regexp.Compile(*runRE); err != nil {
		return usageError{fmt.Errorf("-run: %w", err)}
	}
	parts := strings.Split(*cpus, ",")
	if len(parts) != 2 {
		return usageError{fmt.Errorf("-cpus %q: want two CPU numbers", *cpus)}
	}
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 0 {
			return usageError{fmt.Errorf("-cpus %q: bad CPU %q", *cpus, p)}
		}
		c.cpus[i] = n
	}
	c.sampleMS, c.passes, c.xpasses = 3, 9, 5
	c.spin, c.blocking = pairSample{6000, 3000}, pairSample{600, 300}
	if c.quick {
		c.rounds, c.sampleMS, c.passes, c.xpasses = 1, 1, 2, 1
		c.spin, c.blocking = pairSample{2000, 200}, pairSample{300, 30}
	}
	if c.taskset, err = exec.LookPath("taskset"); err != nil {
		return fmt.Errorf("taskset (util-linux) pins the Go pair processes: %w", err)
	}
	if c.exe, err = os.Executable(); err != nil {
		return err
	}
	if *alts != "" {
		for _, a := range strings.Split(*alts, ",") {
			n, e, ok := strings.Cut(a, "=")
			if !ok || n == "" || e == "" {
				return usageError{fmt.Errorf("-alt %q: want NAME=EXE", a)}
			}
			if e, err = filepath.Abs(e); err != nil {
				return err
			}
			c.alts = append(c.alts, altBuild{n, e})
		}
	}
	if *xusers != "" {
		us := strings.Split(*xusers, ",")
		if len(us) != 2 {
			return usageError{fmt.Errorf("-xuser %q: want two users", *xusers)}
		}
		for i, name := range us {
			u, err := user.Lookup(strings.TrimSpace(name))
			if err != nil {
				return usageError{fmt.Errorf("-xuser: %w", err)}
			}
			uid, err1 := strconv.Atoi(u.Uid)
			gid, err2 := strconv.Atoi(u.Gid)
			if err1 != nil || err2 != nil || uid == 0 || uid == os.Geteuid() {
				return usageError{fmt.Errorf("-xuser: %s (uid %s): want a user other than root and this one", name, u.Uid)}
			}
			c.xuser[i] = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		}
	}
	if c.rounds < 1 {
		return usageError{fmt.Errorf("-rounds %d: want at least 1", c.rounds)}
	}
	if c.plotPath == "" {
		c.plotPath = filepath.Join(c.outDir, "latency.png")
	}
	if runtime.NumCPU() < 2 {
		fmt.Fprintf(stderr, "seqbench: warning: %d CPU: writer and reader share it; cross-process numbers will be scheduler-bound\n", runtime.NumCPU())
	}
	if err := os.MkdirAll(c.outDir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "seqbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	c.tmp = tmp
	if c.xuser[0] != nil {
		// The go-build directory and tmp are this user's alone: the
		// other users get a copy of this program, and a directory to
		// write their samples into, of their own.
		if c.xuserDir, err = os.MkdirTemp("", "seqbench-xuser-"); err != nil {
			return err
		}
		defer os.RemoveAll(c.xuserDir)
		if err := os.Chmod(c.xuserDir, 0o1777); err != nil {
			return err
		}
		b, err := os.ReadFile(c.exe)
		if err != nil {
			return err
		}
		c.xuserExe = filepath.Join(c.xuserDir, "seqbench")
		if err := os.WriteFile(c.xuserExe, b, 0o755); err != nil {
			return err
		}
	}
	start := time.Now()
	res, err := bench(ctx, &c, stderr)
	if err != nil {
		return err
	}
	res.Elapsed = time.Since(start).Round(time.Second).String()
	if c.gotest {
		res.GoTest, err = goTest(ctx, &c, stderr)
		if err != nil {
			return err
		}
	}
	report := res.markdown(&c)
	fmt.Fprint(stdout, report)
	if err := os.WriteFile(filepath.Join(c.outDir, "results.md"), []byte(report), 0o644); err != nil {
		return err
	}
	if err := res.writeJSON(filepath.Join(c.outDir, "results.json")); err != nil {
		return err
	}
	wrote := filepath.Join(c.outDir, "results.md") + ", " + filepath.Join(c.outDir, "results.json")
	if len(res.Xproc) > 0 { // none with a -run that selects in-process loops only
		if err := plotLatency(res, c.plotPath); err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		wrote += " and " + c.plotPath
	}
	fmt.Fprintf(stderr, "seqbench: wrote %s in %s\n", wrote, res.Elapsed)
	return nil
}
