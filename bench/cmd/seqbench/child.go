package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/seqshm/seqshm/seqlock"
)

// Cross-process pairs on the Go side. The harness re-executes itself twice
// with $SEQBENCH_CHILD set to the mode; side 0 (ping) sends value i and
// times the round trip until side 1 (pong) has observed it and sent it
// back. One-way latency = round trip / 2: no clock is shared between the
// two processes, so no clock offset or skew enters the number, and both
// directions take the same path (the same code on each side, symmetric
// CPUs).

type pairArgs struct {
	side          int
	mine, theirs  string // segment names, or the socket path
	size          int
	iters, warmup int
	out           string
}

func (a *pairArgs) flags(fs *flag.FlagSet) {
	fs.IntVar(&a.side, "side", 0, "")
	fs.StringVar(&a.mine, "mine", "", "")
	fs.StringVar(&a.theirs, "theirs", "", "")
	fs.IntVar(&a.size, "size", 64, "")
	fs.IntVar(&a.iters, "iters", 1000, "")
	fs.IntVar(&a.warmup, "warmup", 100, "")
	fs.StringVar(&a.out, "out", "", "")
}

func (a *pairArgs) argv() []string {
	return []string{"-side", strconv.Itoa(a.side), "-mine", a.mine, "-theirs", a.theirs, "-size", strconv.Itoa(a.size),
		"-iters", strconv.Itoa(a.iters), "-warmup", strconv.Itoa(a.warmup), "-out", a.out}
}

func child(mode string, args []string) error {
	var a pairArgs
	fs := flag.NewFlagSet("child", flag.ContinueOnError)
	a.flags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var rtt []int64
	if a.side == 0 {
		rtt = make([]int64, a.iters)
	}
	var err error
	switch mode {
	case "seqlock-spin", "seqlock-wait":
		err = pairSeqlock(ctx, &a, mode == "seqlock-wait", 0, rtt)
	case "seqlock-wait-shared":
		// Segments of mode 0644, for a pair whose sides run as two
		// different users: each side's subscriber may read the other's
		// segment but not write it, and sleeps on the publisher's
		// foreign waiter area (System V shared memory).
		err = pairSeqlock(ctx, &a, true, 0o644, rtt)
	case "uds":
		err = pairUDS(ctx, &a, rtt)
	case "futex":
		err = pairFutex(&a, rtt)
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil || a.side != 0 {
		return err
	}
	return writeSamples(a.out, rtt)
}

// pin binds the calling thread to cpu.
func pin(cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("pin to CPU %d: %w", cpu, err)
	}
	return nil
}

// putI and getI carry round trip i in the first 8 bytes of a value (every
// pair's values are 64 bytes).
func putI(p []byte, i uint64) { binary.LittleEndian.PutUint64(p, i) }

func getI(p []byte) uint64 { return binary.LittleEndian.Uint64(p) }

// pairSeqlock: each side publishes into its own named segment and reads
// the other's, either spinning on Seq (spin) or blocking in Wait (wait).
// Every observed value is read in full (Subscriber.Read of size bytes).
func pairSeqlock(ctx context.Context, a *pairArgs, wait bool, mode os.FileMode, rtt []int64) error {
	pub, err := seqlock.Create(a.mine, &seqlock.Options{Capacity: a.size, NoTimestamp: true, Mode: mode})
	if err != nil {
		return err
	}
	defer pub.Close()
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	sub, err := seqlock.OpenWait(octx, a.theirs, nil)
	cancel()
	if err != nil {
		return err
	}
	defer sub.Close()
	p := make([]byte, a.size)
	buf := make([]byte, a.size)
	// The waiting side uses Subscriber.Wait, Read and Publisher.Publish.
	if wait {
		return pingPong(a, rtt, func(after uint64) error {
			_, err := sub.Wait(ctx, after)
			return err
		}, func() (seqlock.Meta, error) { return sub.Read(buf) }, pub.Publish, p, buf)
	}
	// The spinning side uses the hot-loop paths the API documents for
	// this (Subscriber.Reader, Publisher.Writer: no per-call fault
	// protection), in a loop written out as the C reference's is
	// (pp_seqlock in bench/c/seqref.c). An earlier version shared the
	// closures of the waiting side: on this VM it measured 1.2–1.35x the
	// C loop where the same code written out measured 1.0–1.05x.
	rd, w := sub.Reader(), pub.Writer()
	// spin returns once the other side has published a write newer than
	// after; it looks at ctx every 2^20 loads, never before the first.
	spin := func(after uint64) error {
		for spins := 1; rd.Seq() <= after; spins++ {
			if spins&(1<<20-1) == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
		}
		return nil
	}
	n := uint64(a.warmup + a.iters)
	if a.side == 0 {
		base := time.Now()
		var bad int
		for i := uint64(1); i <= n; i++ {
			putI(p, i)
			t0 := time.Since(base) // one monotonic clock read
			if _, err := w.Write(p); err != nil {
				return err
			}
			if err := spin(i - 1); err != nil {
				return err
			}
			m, err := rd.Read(buf)
			t1 := time.Since(base)
			if err != nil {
				return err
			}
			bad += record(a, rtt, i, t1-t0, m, buf)
		}
		return badReplies(bad)
	}
	var last uint64
	for range n {
		if err := spin(last); err != nil {
			return err
		}
		m, err := rd.Read(buf)
		if err != nil {
			return err
		}
		last = m.Seq
		if _, err := w.Write(buf[:m.Len]); err != nil {
			return err
		}
	}
	return nil
}

// pingPong is the pair's loop for the blocking transports: ping (side 0)
// publishes i and times until it has observed and read the reply; pong
// waits, reads and publishes back what it read.
func pingPong(a *pairArgs, rtt []int64, wait func(after uint64) error, read func() (seqlock.Meta, error),
	publish func([]byte) (uint64, error), p, buf []byte) error {
	n := uint64(a.warmup + a.iters)
	if a.side == 0 {
		base := time.Now()
		var bad int
		for i := uint64(1); i <= n; i++ {
			putI(p, i)
			t0 := time.Since(base)
			if _, err := publish(p); err != nil {
				return err
			}
			if err := wait(i - 1); err != nil {
				return err
			}
			m, err := read()
			t1 := time.Since(base)
			if err != nil {
				return err
			}
			bad += record(a, rtt, i, t1-t0, m, buf)
		}
		return badReplies(bad)
	}
	var last uint64
	for range n {
		if err := wait(last); err != nil {
			return err
		}
		m, err := read()
		if err != nil {
			return err
		}
		last = m.Seq
		if _, err := publish(buf[:m.Len]); err != nil {
			return err
		}
	}
	return nil
}

// record keeps round trip i (after the warm-up) and returns 1 if the reply
// did not carry value i.
func record(a *pairArgs, rtt []int64, i uint64, d time.Duration, m seqlock.Meta, buf []byte) int {
	if i > uint64(a.warmup) {
		rtt[i-uint64(a.warmup)-1] = int64(d)
	}
	if m.Seq != i || getI(buf) != i {
		return 1
	}
	return 0
}

func badReplies(bad int) error {
	if bad != 0 {
		return fmt.Errorf("%d replies did not carry the value sent", bad)
	}
	return nil
}

// pairFutex is the C reference's raw futex pair (pp_futex in
// bench/c/seqref.c) in Go: two words of one shared file mapping, each side
// stores the value into its word and wakes it, and waits on the other's
// word while it is unchanged. It measures what any Go program pays for a
// futex wake-up here, the floor for Subscriber.Wait, in the loop Wait's
// pair runs.
func pairFutex(a *pairArgs, rtt []int64) error {
	const futexWait, futexWake = 0, 1 // shared (not private) futexes, as C's and seqshm's
	f, err := os.OpenFile(a.mine, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	m, err := unix.Mmap(int(f.Fd()), 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	f.Close()
	if err != nil {
		return err
	}
	defer unix.Munmap(m)
	words := [2]*uint32{(*uint32)(unsafe.Pointer(&m[0])), (*uint32)(unsafe.Pointer(&m[128]))}
	mine, theirs := words[a.side], words[1-a.side]
	p, buf := make([]byte, a.size), make([]byte, a.size)
	wait := func(after uint64) error {
		for {
			v := atomic.LoadUint32(theirs)
			if uint64(v) > after {
				return nil
			}
			unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(theirs)), futexWait, uintptr(v), 0, 0, 0)
		}
	}
	read := func() (seqlock.Meta, error) {
		v := uint64(atomic.LoadUint32(theirs))
		putI(buf, v)
		return seqlock.Meta{Len: len(buf), Seq: v}, nil
	}
	publish := func(b []byte) (uint64, error) {
		atomic.StoreUint32(mine, uint32(getI(b)))
		unix.RawSyscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(mine)), futexWake, 1<<31-1, 0, 0, 0)
		return 0, nil
	}
	return pingPong(a, rtt, wait, read, publish, p, buf)
}

// pairUDS: the Unix-socket ping-pong as a Go program would write it
// (net.UnixConn, the runtime's network poller).
func pairUDS(ctx context.Context, a *pairArgs, rtt []int64) error {
	var conn net.Conn
	if a.side == 0 {
		ln, err := net.Listen("unix", a.mine)
		if err != nil {
			return err
		}
		defer ln.Close()
		if conn, err = ln.Accept(); err != nil {
			return err
		}
	} else {
		var err error
		for d := time.Millisecond; ; d = min(2*d, 50*time.Millisecond) {
			if conn, err = net.Dial("unix", a.mine); err == nil {
				break
			}
			if ctx.Err() != nil {
				return err
			}
			time.Sleep(d)
		}
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	p, buf := make([]byte, a.size), make([]byte, a.size)
	// A stream has no "newer than": waiting is reading the next message.
	wait := func(uint64) error {
		_, err := io.ReadFull(conn, buf)
		return err
	}
	read := func() (seqlock.Meta, error) { return seqlock.Meta{Len: len(buf), Seq: getI(buf)}, nil }
	publish := func(b []byte) (uint64, error) {
		_, err := conn.Write(b)
		return 0, err
	}
	return pingPong(a, rtt, wait, read, publish, p, buf)
}

// pairRuns numbers the Go pairs of this run, for unique segment names.
var pairRuns atomic.Int64

// pairProcs says how a Go pair's processes are started: the binary (the
// harness itself if empty; another build of seqbench for -alt), the users
// they run as (nil: this process's) and the directory of the samples file
// (the harness's temporary directory if empty).
type pairProcs struct {
	exe    string
	creds  [2]*syscall.Credential
	outDir string
}

// goPingPong runs one Go pair (two re-executed processes, started as pp
// says) and returns the round trips. Segments are unique per run and
// removed afterwards, even if a side failed.
func goPingPong(ctx context.Context, c *config, pp pairProcs, mode string, size, iters, warmup int) ([]int64, error) {
	exe, outDir := c.exe, c.tmp
	if pp.exe != "" {
		exe = pp.exe
	}
	if pp.outDir != "" {
		outDir = pp.outDir
	}
	id := fmt.Sprintf("seqbench-%d-%d", os.Getpid(), pairRuns.Add(1))
	names := [2]string{id + "-a", id + "-b"}
	switch mode {
	case "uds":
		names = [2]string{filepath.Join(c.tmp, id+".sock"), filepath.Join(c.tmp, id+".sock")}
	case "futex":
		f := filepath.Join(c.tmp, id+".futex")
		if err := os.WriteFile(f, make([]byte, 4096), 0o600); err != nil {
			return nil, err
		}
		defer os.Remove(f)
		names = [2]string{f, f}
	default:
		defer func() {
			for _, n := range names {
				if err := seqlock.Remove(n); err != nil && !errors.Is(err, os.ErrNotExist) {
					fmt.Fprintf(os.Stderr, "seqbench: remove %s: %v\n", n, err)
				}
			}
		}()
	}
	out := filepath.Join(outDir, id+".bin")
	cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var cmds [2]*exec.Cmd
	for side := range 2 {
		a := pairArgs{side: side, mine: names[side], theirs: names[1-side], size: size, iters: iters, warmup: warmup, out: out}
		// Pin the whole process (every runtime thread), as the C
		// processes are.
		cmd := exec.CommandContext(cctx, c.taskset, append([]string{"-c", strconv.Itoa(c.cpus[side]), exe}, a.argv()...)...)
		cmd.Env = append(os.Environ(), childEnv+"="+mode)
		if cr := pp.creds[side]; cr != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cr}
		}
		if _, set := os.LookupEnv("GOMAXPROCS"); !set {
			// What the program gets unpinned on this machine. Pinned
			// to one CPU, Go would choose 1, and then sysmon takes
			// the only P from every Wait asleep in futex and polls
			// every 20 µs while it does: a cost of pinning the whole
			// process, not of the program (about 1.4x on the
			// blocking pair here).
			cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(runtime.NumCPU()))
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		cmds[side] = cmd
		if mode == "uds" && side == 0 {
			// The listener must exist before the other side dials; it
			// retries, so this only saves time.
			time.Sleep(5 * time.Millisecond)
		}
	}
	// Wait for both at once: whichever side fails first cancels the other,
	// which would otherwise spin until its own timeout.
	done := make(chan error, 2)
	for side, cmd := range cmds {
		go func() {
			err := cmd.Wait()
			if err != nil {
				err = fmt.Errorf("%s side %d: %w", mode, side, err)
				cancel()
			}
			done <- err
		}()
	}
	var errs []error
	for range cmds {
		errs = append(errs, <-done)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return readSamples(out, iters)
}
