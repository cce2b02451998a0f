package seqlock_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seqshm/seqshm/internal/testproc"
	"github.com/seqshm/seqshm/seqlock"
	"github.com/seqshm/seqshm/shmfile"
)

// TestMain doubles as a helper process (internal/testproc): "publish NAME
// VALUE" publishes VALUE, says "ready" and sleeps; "wait NAME" opens NAME,
// says "ready", waits for a first value and prints it.
func TestMain(m *testing.M) {
	os.Exit(testproc.Main(m, map[string]testproc.Role{
		"publish": func(args []string) int { return childPublish(args[0], args[1]) },
		"wait":    func(args []string) int { return childWait(args[0]) },
	}))
}

func childPublish(name, value string) int {
	p, err := seqlock.Create(name, nil)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	p.Publish([]byte(value))
	fmt.Println("ready")
	time.Sleep(time.Hour)
	return 0
}

func childWait(name string) int {
	s, err := seqlock.Open(name, nil)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("ready")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := s.Wait(ctx, 0); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	buf := make([]byte, s.Capacity())
	m, err := s.Read(buf)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Printf("value %s\n", buf[:m.Len])
	return 0
}

// segDir points the segment directory at a fresh temporary directory.
func segDir(t *testing.T) string { return testproc.SegDir(t) }

// startChild starts a helper process that publishes value into name, and
// waits for it to be ready.
func startChild(t *testing.T, name, value string) *exec.Cmd {
	t.Helper()
	cmd := testproc.Command("publish", name, value)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("helper process said %q, want ready", line)
	}
	return cmd
}

func readAll(t *testing.T, s *seqlock.Subscriber) (string, seqlock.Meta) {
	t.Helper()
	buf := make([]byte, s.Capacity())
	m, err := s.Read(buf)
	if err != nil {
		t.Fatalf("Read(%q) = %v", s.Name(), err)
	}
	return string(buf[:m.Len]), m
}

func TestHappyPath(t *testing.T) {
	segDir(t)
	pub, err := seqlock.Create("imu", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	pub.Publish([]byte("hello"))

	sub, err := seqlock.Open("imu", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	got, m := readAll(t, sub)
	if got != "hello" || m.Seq != 1 || time.Since(m.Time()) > time.Minute {
		t.Errorf("Read = %q, %+v, want \"hello\", write 1, a recent time", got, m)
	}
}

func TestRetainedAndTakeOver(t *testing.T) {
	segDir(t)
	pub, err := seqlock.Create("retained", &seqlock.Options{Capacity: 64})
	if err != nil {
		t.Fatal(err)
	}
	pub.Publish([]byte("one"))
	pub.Publish([]byte("two"))
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := seqlock.Stat("retained")
	if err != nil || st.Writer != seqlock.WriterClosed || st.Seq != 2 || st.Capacity != 64 {
		t.Errorf("Stat after Close = %+v, %v, want writer closed, write 2, capacity 64", st, err)
	}
	pub, err = seqlock.Create("retained", nil) // capacity 0: take what is there
	if err != nil {
		t.Fatalf("Create over a closed segment = %v", err)
	}
	if pub.Created() {
		t.Errorf("Created() after taking over = true, want false")
	}
	defer pub.Close()
	sub, err := seqlock.Open("retained", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if got, _ := readAll(t, sub); got != "two" {
		t.Errorf("value after take-over = %q, want the retained \"two\"", got)
	}
	if n, err := pub.Publish([]byte("three")); n != 3 || err != nil {
		t.Errorf("Publish after take-over = %d, %v, want write 3", n, err)
	}
	if _, err := seqlock.Create("retained", &seqlock.Options{Capacity: 128}); !errors.Is(err, seqlock.ErrBusy) {
		t.Errorf("second Create while the first publishes = %v, want ErrBusy", err)
	}
}

func TestCreateRefuses(t *testing.T) {
	dir := segDir(t)
	p, err := seqlock.Create("small", &seqlock.Options{Capacity: 16})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	os.WriteFile(filepath.Join(dir, "foreign"), []byte(strings.Repeat("x", 4096)), 0o600)
	tests := []struct {
		name string
		opts *seqlock.Options
		want error
	}{
		{"small", &seqlock.Options{Capacity: 32}, seqlock.ErrIncompatible},
		{"foreign", nil, seqlock.ErrNotSeqshm},
		{"../escape", nil, shmfile.ErrInvalidName},
		{"neg", &seqlock.Options{Capacity: -1}, nil},
	}
	for _, tt := range tests {
		_, err := seqlock.Create(tt.name, tt.opts)
		if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("Create(%q, %+v) = %v, want %v", tt.name, tt.opts, err, tt.want)
		}
	}
	if _, err := seqlock.CreateTyped[struct{ X, Y float64 }]("small", nil); !errors.Is(err, seqlock.ErrIncompatible) {
		t.Errorf("CreateTyped over a raw 16-byte segment = %v, want ErrIncompatible", err)
	}
}

func TestOpenErrors(t *testing.T) {
	segDir(t)
	_, err := seqlock.Open("missing", nil)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), `"missing"`) {
		t.Errorf("Open(missing, nil) = %v, want fs.ErrNotExist naming the segment", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := seqlock.OpenWait(ctx, "missing", nil); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenWait(missing, 50ms, nil) = %v, want DeadlineExceeded and ErrNotExist", err)
	}
}

func TestOpenWaitSeesCreate(t *testing.T) {
	segDir(t)
	go func() {
		time.Sleep(30 * time.Millisecond)
		p, err := seqlock.Create("late", nil)
		if err == nil {
			p.Publish([]byte("here"))
			t.Cleanup(func() { p.Close() })
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := seqlock.OpenWait(ctx, "late", nil)
	if err != nil {
		t.Fatalf("OpenWait = %v", err)
	}
	defer s.Close()
	if _, err := s.Wait(ctx, 0); err != nil {
		t.Errorf("Wait for the first value = %v", err)
	}
}

func TestWriterDied(t *testing.T) {
	segDir(t)
	cmd := startChild(t, "crashy", "last words")
	st, err := seqlock.Stat("crashy")
	if err != nil || st.Writer != seqlock.WriterAlive || st.PID != cmd.Process.Pid {
		t.Errorf("Stat with a live publisher = %+v, %v, want alive, pid %d", st, err, cmd.Process.Pid)
	}
	_, err = seqlock.Create("crashy", nil)
	if !errors.Is(err, seqlock.ErrBusy) || !strings.Contains(err.Error(), fmt.Sprint(cmd.Process.Pid)) {
		t.Errorf("Create while another process publishes = %v, want ErrBusy naming pid %d", err, cmd.Process.Pid)
	}
	if err := seqlock.Remove("crashy"); !errors.Is(err, seqlock.ErrBusy) {
		t.Errorf("Remove with a live publisher = %v, want ErrBusy", err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	st, err = seqlock.Stat("crashy")
	if err != nil || st.Writer != seqlock.WriterDied || st.Seq != 1 {
		t.Errorf("Stat after SIGKILL = %+v, %v, want died, write 1", st, err)
	}
	sub, err := seqlock.Open("crashy", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if got, _ := readAll(t, sub); got != "last words" {
		t.Errorf("value after the publisher died = %q, want \"last words\"", got)
	}
	pub, err := seqlock.Create("crashy", nil)
	if err != nil {
		t.Fatalf("Create after the publisher died = %v", err)
	}
	pub.Publish([]byte("new publisher"))
	if got, m := readAll(t, sub); got != "new publisher" || m.Seq != 2 {
		t.Errorf("value from the new publisher = %q (write %d), want \"new publisher\" (write 2)", got, m.Seq)
	}
	pub.Close()
	if got, err := sub.Replaced(); got || err != nil {
		t.Errorf("Replaced() before Remove = %v, %v, want false", got, err)
	}
	if err := seqlock.Remove("crashy"); err != nil {
		t.Errorf("Remove after Close = %v", err)
	}
	if got, err := sub.Replaced(); !got || err != nil {
		t.Errorf("Replaced() after Remove = %v, %v, want true", got, err)
	}
}

// A Subscriber's Waits that share one cancellable context (as a follow
// loop's do) keep one cancel hook between them; a cancel still ends the Wait
// A file too small for a segment that stays so is another program's:
// OpenWait says so (after a second) instead of waiting until its deadline.
func TestOpenWaitForeignSmallFile(t *testing.T) {
	dir := segDir(t)
	if dir == "" {
		t.Skip("segments are not files here")
	}
	if err := os.WriteFile(filepath.Join(dir, "tiny"), []byte("not a segment"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := seqlock.OpenWait(ctx, "tiny", nil); !errors.Is(err, shmfile.ErrTooSmall) || ctx.Err() != nil {
		t.Errorf("OpenWait on a small foreign file = %v (context: %v), want ErrTooSmall before the deadline", err, ctx.Err())
	}
}

// asleep at the time, and a Wait with another context at the same time.
func TestWaitNamedCancel(t *testing.T) {
	segDir(t)
	pub, err := seqlock.Create("cancelled", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sub, err := seqlock.Open("cancelled", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ctx, cancel := context.WithCancel(context.Background())
	for i := 1; i <= 3; i++ { // Waits woken by values, one context
		done := make(chan error, 1)
		go func() {
			_, err := sub.Wait(ctx, uint64(i-1))
			done <- err
		}()
		time.Sleep(5 * time.Millisecond)
		pub.Publish([]byte{byte(i)})
		if err := <-done; err != nil {
			t.Fatalf("Wait = %v", err)
		}
	}
	other, cancelOther := context.WithCancel(context.Background())
	done := make(chan error, 2)
	for _, c := range []context.Context{ctx, other} {
		go func() {
			_, err := sub.Wait(c, 3)
			done <- err
		}()
	}
	time.Sleep(20 * time.Millisecond) // let both sleep; the test passes either way
	cancelOther()
	cancel()
	for range 2 {
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Wait after cancel = %v, want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a Wait did not return after its context was cancelled")
		}
	}
}

func TestWaitNamed(t *testing.T) {
	segDir(t)
	pub, err := seqlock.Create("waited", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sub, err := seqlock.Open("waited", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 1; i <= 3; i++ {
		done := make(chan uint64, 1)
		go func() {
			n, err := sub.Wait(ctx, uint64(i-1))
			if err != nil {
				t.Errorf("Wait = %v", err)
			}
			done <- n
		}()
		time.Sleep(5 * time.Millisecond)
		pub.Publish([]byte{byte(i)})
		if n := <-done; n != uint64(i) {
			t.Errorf("Wait = %d, want %d", n, i)
		}
	}
}

func TestTruncatedUnderReader(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows refuses to truncate a mapped file")
	}
	dir := segDir(t)
	// 64 bytes: the amd64 assembly paths fault; 64 KiB: the Go paths.
	for _, capacity := range []int{64, 64 << 10} {
		name := fmt.Sprintf("shrinking-%d", capacity)
		pub, err := seqlock.Create(name, &seqlock.Options{Capacity: capacity})
		if err != nil {
			t.Fatal(err)
		}
		defer pub.Close()
		pub.Publish(make([]byte, capacity))
		sub, err := seqlock.Open(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		if err := os.Truncate(filepath.Join(dir, name), 0); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, sub.Capacity())
		if _, err := sub.Read(buf); !errors.Is(err, seqlock.ErrTruncated) {
			t.Errorf("capacity %d: Read of a truncated segment = %v, want ErrTruncated", capacity, err)
		}
		if _, err := sub.Stat(); !errors.Is(err, seqlock.ErrTruncated) {
			t.Errorf("capacity %d: Status of a truncated segment = %v, want ErrTruncated", capacity, err)
		}
		if _, err := sub.Wait(context.Background(), 0); !errors.Is(err, seqlock.ErrTruncated) {
			t.Errorf("capacity %d: Wait on a truncated segment = %v, want ErrTruncated", capacity, err)
		}
		if _, err := pub.Publish(make([]byte, capacity)); !errors.Is(err, seqlock.ErrTruncated) {
			t.Errorf("capacity %d: Publish into a truncated segment = %v, want ErrTruncated", capacity, err)
		}
	}
}

func TestListAndRemove(t *testing.T) {
	dir := segDir(t)
	for _, n := range []string{"b", "a"} {
		p, err := seqlock.Create(n, nil)
		if err != nil {
			t.Fatal(err)
		}
		p.Publish([]byte(n))
		defer p.Close()
	}
	os.WriteFile(filepath.Join(dir, "foreign"), make([]byte, 8192), 0o600)
	os.WriteFile(filepath.Join(dir, "sem.x"), []byte("x"), 0o600)
	list, err := seqlock.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range list {
		names = append(names, e.Name+"/"+e.Writer.String())
	}
	// The zero-filled "foreign" file looks like a segment not yet initialised.
	if got, want := strings.Join(names, ","), "a/alive,b/alive,foreign/none"; got != want {
		t.Errorf("List() = %s, want %s", got, want)
	}
	if err := seqlock.Remove("sem.x"); err == nil {
		t.Errorf("Remove of a foreign file = nil error, want a refusal")
	}
	if _, err := os.Stat(filepath.Join(dir, "sem.x")); err != nil {
		t.Errorf("foreign file was removed: %v", err)
	}
}

func TestTypedNamed(t *testing.T) {
	segDir(t)
	type Pose struct{ X, Y, Yaw float64 }
	pub, err := seqlock.CreateTyped[Pose]("pose", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	pub.Publish(Pose{1, 2, 3})
	sub, err := seqlock.OpenTyped[Pose]("pose", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if v, m, err := sub.Read(); err != nil || v != (Pose{1, 2, 3}) || m.Seq != 1 {
		t.Errorf("Read = %+v, %+v, %v, want {1 2 3}, write 1", v, m, err)
	}
	if _, err := seqlock.OpenTyped[[3]float32]("pose", nil); !errors.Is(err, seqlock.ErrTypeMismatch) {
		t.Errorf("OpenTyped[[3]float32] = %v, want ErrTypeMismatch", err)
	}
}

func TestSubscriberReadAllocs(t *testing.T) {
	segDir(t)
	pub, _ := seqlock.Create("allocs", nil)
	defer pub.Close()
	pub.Publish([]byte("x"))
	sub, _ := seqlock.Open("allocs", nil)
	defer sub.Close()
	buf := make([]byte, sub.Capacity())
	if a := testing.AllocsPerRun(100, func() { sub.Read(buf) }); a != 0 {
		t.Errorf("Subscriber.Read allocates %v times, want 0", a)
	}
	if a := testing.AllocsPerRun(100, func() { pub.Publish(buf[:64]) }); a != 0 {
		t.Errorf("Publisher.Publish allocates %v times, want 0", a)
	}
}

func TestClosedIsClosed(t *testing.T) {
	segDir(t)
	pub, err := seqlock.Create("closing", nil)
	if err != nil {
		t.Fatal(err)
	}
	pub.Publish([]byte("x"))
	sub, err := seqlock.Open("closing", nil)
	if err != nil {
		t.Fatal(err)
	}
	sub.Close()
	pub.Close()
	if _, err := sub.Read(make([]byte, 16)); !errors.Is(err, seqlock.ErrClosed) {
		t.Errorf("Read after Close = %v, want ErrClosed", err)
	}
	if _, err := sub.Wait(context.Background(), 0); !errors.Is(err, seqlock.ErrClosed) {
		t.Errorf("Wait after Close = %v, want ErrClosed", err)
	}
	if _, err := sub.Stat(); !errors.Is(err, seqlock.ErrClosed) {
		t.Errorf("Status after Close = %v, want ErrClosed", err)
	}
	if _, err := pub.Publish([]byte("y")); !errors.Is(err, seqlock.ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
	if err := pub.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	tp, err := seqlock.CreateTyped[uint64]("closing-typed", nil)
	if err != nil {
		t.Fatal(err)
	}
	tp.Publish(1)
	tp.Close()
	if _, err := tp.Publish(2); !errors.Is(err, seqlock.ErrClosed) {
		t.Errorf("TypedPublisher.Publish after Close = %v, want ErrClosed", err)
	}
}

// Two processes' worth of Create racing for one new name: one publishes,
// the other is told the name is busy, and the name stays usable.
func TestConcurrentCreate(t *testing.T) {
	segDir(t)
	for trial := range 20 {
		name := fmt.Sprintf("race%d", trial)
		errs := make(chan error, 2)
		pubs := make(chan *seqlock.Publisher, 2)
		start := make(chan struct{})
		for range 2 {
			go func() {
				<-start
				p, err := seqlock.Create(name, nil)
				errs <- err
				pubs <- p
			}()
		}
		close(start)
		var ok int
		var got []*seqlock.Publisher
		for range 2 {
			err := <-errs
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, seqlock.ErrBusy):
				t.Errorf("trial %d: Create = %v, want success or ErrBusy", trial, err)
			}
			got = append(got, <-pubs)
		}
		for _, p := range got {
			if p != nil {
				p.Close()
			}
		}
		if ok != 1 {
			t.Errorf("trial %d: %d Creates succeeded, want 1", trial, ok)
		}
		if p, err := seqlock.Create(name, nil); err != nil {
			t.Errorf("trial %d: Create after the race = %v", trial, err)
		} else {
			p.Close()
		}
	}
}

func TestRemoveHalfMade(t *testing.T) {
	dir := segDir(t)
	if dir == "" {
		t.Skip("segments are not files on this OS")
	}
	// A creator that died before sizing its file leaves it empty.
	os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600)
	if _, err := seqlock.Create("empty", nil); err == nil {
		t.Errorf("Create over an empty file nobody sizes = nil error, want one")
	}
	if err := seqlock.Remove("empty"); err != nil {
		t.Errorf("Remove of an empty (half-made) segment = %v", err)
	}
	// A foreign file whose first 8 bytes are zero is not taken for ours.
	foreign := make([]byte, 1<<20)
	foreign[4096] = 1
	os.WriteFile(filepath.Join(dir, "foreign0"), foreign, 0o600)
	if _, err := seqlock.Create("foreign0", nil); !errors.Is(err, seqlock.ErrNotSeqshm) {
		t.Errorf("Create over a foreign file with a zero first word = %v, want ErrNotSeqshm", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "foreign0")); !bytes.Equal(got, foreign) {
		t.Errorf("Create changed a foreign file")
	}
}

// A context cancelled after Wait returned and the Subscriber was closed
// must not touch the unmapped segment (its cancel hook may still run).
func TestCancelAfterClose(t *testing.T) {
	segDir(t)
	pub, err := seqlock.Create("cancelled", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	for i := range 20 {
		sub, err := seqlock.Open("cancelled", nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		after := sub.Seq() // before the publish below, whenever the goroutine runs
		go func() {
			sub.Wait(ctx, after)
			close(done)
		}()
		time.Sleep(time.Millisecond)
		if i%2 == 0 {
			pub.Publish([]byte("v")) // Wait ends with a value
		} else {
			cancel() // Wait ends by its cancel hook
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("iteration %d: Wait did not return", i)
		}
		sub.Close()
		cancel()
	}
	time.Sleep(10 * time.Millisecond) // let any late hook run
}
