package seqlock_test

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/seqshm/seqshm/internal/testproc"
	"github.com/seqshm/seqshm/seqlock"
)

// A subscriber with read permission only cannot register in the segment's
// waiter word; its Wait sleeps on the publisher's foreign waiter area (or
// polls without one), and sees the value.
func TestWaitReadOnlyPermission(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running a subscriber as another user (uid 65534) needs root")
	}
	// The other user must reach the test binary and the segment directory.
	root := t.TempDir()
	for _, d := range []string{root, filepath.Dir(root)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(root, "seqlock.test")
	in, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(bin, os.O_WRONLY|os.O_CREATE, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(out, in)
	in.Close()
	out.Close()
	t.Setenv("SEQSHM_DIR", root)

	pub, err := seqlock.Create("shared", &seqlock.Options{Mode: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()

	cmd := testproc.Command("wait", "shared")
	cmd.Path, cmd.Args[0] = bin, bin // the copy the other user may run
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	pipe, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start a process as uid 65534 here: %v", err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	r := bufio.NewReader(pipe)
	if line, _ := r.ReadString('\n'); line != "ready\n" {
		t.Fatalf("subscriber as uid 65534 said %q, want ready", line)
	}
	pub.Publish([]byte("for everyone"))
	if line, _ := r.ReadString('\n'); line != "value for everyone\n" {
		t.Errorf("subscriber as uid 65534 with read permission only said %q, want the value", line)
	}
}

// A follow loop's Waits that sleep on the futex allocate nothing once the
// first has registered the cancel hook the Subscriber keeps.
func TestWaitSleepingAllocs(t *testing.T) {
	segDir(t)
	pub, err := seqlock.Create("sleepy", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sub, err := seqlock.Open("sleepy", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	const waits = 300
	published := make(chan struct{})
	go func() { // values slow enough that each Wait sleeps, until the test ends
		defer close(published)
		for ctx.Err() == nil {
			time.Sleep(200 * time.Microsecond)
			pub.Publish([]byte{1})
		}
	}()
	defer func() {
		cancel()
		<-published // pub.Close (deferred above) runs after the last Publish
	}()
	last, err := sub.Wait(ctx, 0) // registers the hook
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range waits - 1 {
		if last, err = sub.Wait(ctx, last); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	// MemStats counts every goroutine's allocations, the runtime's too.
	if per := float64(after.Mallocs-before.Mallocs) / (waits - 1); per > 0.1 {
		t.Errorf("%.2f allocations per sleeping Wait, want 0", per)
	}
}

// A small segment costs two pages of tmpfs, not the 64 KiB that aligning its
// waiter area for Windows would take: a capacity-64 segment, with a value,
// holds at most 8 KiB of /dev/shm (so that about 8,000 fit in Docker's
// default 64 MiB).
func TestSmallSegmentSize(t *testing.T) {
	d, err := os.MkdirTemp("/dev/shm", "seqshm-size-")
	if err != nil {
		t.Skipf("no /dev/shm to measure: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	t.Setenv("SEQSHM_DIR", d)
	p, err := seqlock.Create("small", &seqlock.Options{Capacity: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Publish(make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(d, "small"), &st); err != nil {
		t.Fatal(err)
	}
	if used := st.Blocks * 512; used > 8192 {
		t.Errorf("a capacity-64 segment uses %d bytes of tmpfs (file size %d), want at most 8192", used, st.Size)
	}
}
