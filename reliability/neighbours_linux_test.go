package reliability_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/seqshm/seqshm/internal/cli/clitest"
	"github.com/seqshm/seqshm/internal/testproc"
	"github.com/seqshm/seqshm/seqlock"
)

// Hostile neighbours (docs/reliability.md): another user, a cleanup job, a
// container sharing the segment directory. These tests run the real tools
// across processes, and across two users when run as root (they create the
// user neighbourUser with useradd and leave it for later runs).

const neighbourUser = "seqshm-neighbour"

// neighbour is another user's credentials.
type neighbour struct {
	name     string
	uid, gid uint32
}

var neighbourOnce struct {
	sync.Once
	n   *neighbour
	err error
}

// otherUser returns the second user, creating it if needed. It skips the
// test unless this process is root.
func otherUser(t *testing.T) *neighbour {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root, to create and act as a second user")
	}
	neighbourOnce.Do(func() {
		if _, err := user.Lookup(neighbourUser); err != nil {
			out, err := exec.Command("useradd", "--system", "--no-create-home", "--user-group",
				"--shell", "/usr/sbin/nologin", neighbourUser).CombinedOutput()
			if err != nil {
				neighbourOnce.err = fmt.Errorf("useradd %s: %v: %s", neighbourUser, err, out)
				return
			}
		}
		u, err := user.Lookup(neighbourUser)
		if err != nil {
			neighbourOnce.err = err
			return
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		neighbourOnce.n = &neighbour{name: neighbourUser, uid: uint32(uid), gid: uint32(gid)}
	})
	if neighbourOnce.err != nil {
		t.Skipf("cannot create a second user: %v", neighbourOnce.err)
	}
	return neighbourOnce.n
}

// sharedDir makes a segment directory like /dev/shm (mode 1777, root's),
// reachable by every user, removed when the test ends.
func sharedDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "seqshm-shared-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	return d
}

// tool returns the path of a tool binary, reachable by every user.
func tool(t *testing.T, name string) string {
	t.Helper()
	dir := binaries(t)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, name)
}

// toolCmd is the command running a tool with args in segment directory dir,
// as user as (nil: this process's user).
func toolCmd(t *testing.T, ctx context.Context, as *neighbour, dir, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, tool(t, name), args...)
	cmd.Env = append(os.Environ(), "SEQSHM_DIR="+dir, "GORACE=atexit_sleep_ms=0")
	cmd.WaitDelay = time.Second
	if as != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: as.uid, Gid: as.gid}}
	}
	return cmd
}

// runTool runs a tool to its end and returns how it ended.
func runTool(t *testing.T, as *neighbour, dir, name string, args ...string) clitest.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clitest.Timeout)
	defer cancel()
	cmd := toolCmd(t, ctx, as, dir, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s %q: %v", name, args, err)
	}
	return clitest.Result{Code: cmd.ProcessState.ExitCode(), Stdout: stdout.String(), Stderr: stderr.String()}
}

// want fails the test unless r ended with code and its stderr holds every
// one of parts.
func want(t *testing.T, what string, r clitest.Result, code int, parts ...string) {
	t.Helper()
	if r.Code != code {
		t.Errorf("%s: exit %d, want %d; stdout %q, stderr:\n%s", what, r.Code, code, r.Stdout, r.Stderr)
		return
	}
	for _, p := range parts {
		if !strings.Contains(r.Stderr, p) {
			t.Errorf("%s: stderr does not say %q:\n%s", what, p, r.Stderr)
		}
	}
}

// TestPlantedSegmentRefused: user B plants a segment with mode 0666; root's
// publisher must not adopt it (B could read the secret and forge values),
// whatever -mode it gives, and a subscriber told -owner root refuses it.
func TestPlantedSegmentRefused(t *testing.T) {
	b := otherUser(t)
	dir := sharedDir(t)
	name := uniqueName(t)
	want(t, "B: publisher -mode 0666", runTool(t, b, dir, "publisher", "-mode", "0666", name, "planted"), 0)

	for _, args := range [][]string{{name, "secret"}, {"-mode", "0666", name, "secret"}} {
		r := runTool(t, nil, dir, "publisher", args...)
		want(t, fmt.Sprintf("root: publisher %q", args), r, 1,
			"segment belongs to "+b.name, "mode 0666", "hint: ", "publisher -rm "+name)
	}
	if r := runTool(t, nil, dir, "subscriber", name); r.Stdout != "planted\n" {
		t.Errorf("value after the refused take-overs = %q, want %q (the secret must not be written)", r.Stdout, "planted\n")
	}
	want(t, "root: subscriber -owner root", runTool(t, nil, dir, "subscriber", "-owner", "root", name), 1,
		"segment belongs to "+b.name+" (uid "+strconv.Itoa(int(b.uid))+") (mode 0666), not to the owner asked for")
	if r := runTool(t, nil, dir, "subscriber", "-owner", b.name, name); r.Code != 0 || r.Stdout != "planted\n" {
		t.Errorf("subscriber -owner %s = %d %q, want the value", b.name, r.Code, r.Stdout)
	}

	// The owner is shown by -info and -list, and in their JSON.
	if r := runTool(t, nil, dir, "subscriber", "-info", name); !strings.Contains(r.Stdout, "owner:") || !strings.Contains(r.Stdout, b.name) {
		t.Errorf("subscriber -info does not show the owner %s:\n%s", b.name, r.Stdout)
	}
	var st struct {
		Owner string `json:"owner"`
		UID   *int   `json:"uid"`
	}
	r := runTool(t, nil, dir, "subscriber", "-list", "-json")
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil || st.Owner != b.name || st.UID == nil || *st.UID != int(b.uid) {
		t.Errorf("subscriber -list -json = %q (%v), want owner %s, uid %d", r.Stdout, err, b.name, b.uid)
	}
	// Root may remove it, as in /dev/shm.
	want(t, "root: publisher -rm", runTool(t, nil, dir, "publisher", "-rm", name), 0)
}

// TestWiderModeRefused: a publisher adopts its own segment only if its mode
// grants no more than -mode (default 0600).
func TestWiderModeRefused(t *testing.T) {
	dir := segDir(t)
	name := uniqueName(t)
	want(t, "publisher -mode 0644", runTool(t, nil, dir, "publisher", "-mode", "0644", name, "v1"), 0)
	want(t, "publisher (0600)", runTool(t, nil, dir, "publisher", name, "v2"), 1,
		"segment has mode 0644, which grants more than 0600", "hint: give -mode 0644")
	want(t, "publisher -mode 0644 again", runTool(t, nil, dir, "publisher", "-mode", "0644", name, "v3"), 0)
	if r := runTool(t, nil, dir, "subscriber", name); r.Stdout != "v3\n" {
		t.Errorf("value = %q, want v3", r.Stdout)
	}
}

// TestUntrustedDirectory: SEQSHM_DIR must not be writable by others unless
// sticky, a writer's must be its own or root's, and a symbolic link to a
// directory is not followed.
func TestUntrustedDirectory(t *testing.T) {
	base := t.TempDir()
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o777) // past the umask
	link := filepath.Join(base, "link")
	sticky := filepath.Join(base, "sticky")
	if err := os.Mkdir(sticky, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(sticky, 0o777|os.ModeSticky)
	if err := os.Symlink(sticky, link); err != nil {
		t.Fatal(err)
	}
	name := uniqueName(t)
	want(t, "publisher in a 0777 directory", runTool(t, nil, open, "publisher", name, "v"), 1,
		"segment directory "+open, "may be written by others and is not sticky", "hint: ")
	want(t, "subscriber in a 0777 directory", runTool(t, nil, open, "subscriber", name), 1, "is not sticky")
	want(t, "subscriber -list in a 0777 directory", runTool(t, nil, open, "subscriber", "-list"), 1, "is not sticky")
	if _, err := os.Stat(filepath.Join(open, name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a segment was created in the untrusted directory (%v)", err)
	}
	want(t, "publisher in a symlinked directory", runTool(t, nil, link, "publisher", name, "v"), 1, "is a symbolic link")
	want(t, "publisher in a 1777 directory", runTool(t, nil, sticky, "publisher", name, "v"), 0)

	if os.Geteuid() != 0 {
		return
	}
	b := otherUser(t)
	theirs := filepath.Join(sharedDir(t), "theirs")
	if err := os.Mkdir(theirs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(theirs, int(b.uid), int(b.gid)); err != nil {
		t.Fatal(err)
	}
	want(t, "B: publisher in B's directory", runTool(t, b, theirs, "publisher", "-mode", "0644", name, "from B"), 0)
	want(t, "root: publisher in B's directory", runTool(t, nil, theirs, "publisher", "-rm", name), 1,
		"segment directory "+theirs+" (owner "+b.name, "belongs to another user, who could replace its segments")
	if r := runTool(t, nil, theirs, "subscriber", name); r.Code != 0 || r.Stdout != "from B\n" {
		t.Errorf("root: subscriber in B's directory = %d %q, %s; want B's value (readers accept any owner)", r.Code, r.Stdout, r.Stderr)
	}
}

// makeHuge writes, in dir, a segment whose header claims capacity bytes
// (a sparse file of four times that: a writer gives slots this large four
// slots) and whose value claims length bytes.
func makeHuge(t *testing.T, dir, name string, capacity, length int) {
	t.Helper()
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	size := seqlock.Size(capacity)
	if err := f.Truncate(int64(size)); err != nil {
		t.Skipf("cannot make a sparse file of %d bytes here: %v", size, err)
	}
	region, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Skipf("cannot map %d bytes: %v", size, err)
	}
	defer unix.Munmap(region)
	w, err := seqlock.NewWriter(region, &seqlock.WriterOptions{Capacity: capacity})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("small")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if length > 5 {
		// Write 1 is in slot 1 (of the header's slot count), whose
		// header starts a slot size after slot 0's.
		newest := slotOf(region, 1)
		binary.LittleEndian.PutUint64(region[newest+offSlotLen:], uint64(length))
	}
}

// TestHugeCapacityHeader: a header claiming 1 TiB must not make a reader
// allocate it; a value beyond the reader's limit is a clear error, exit 1;
// publisher -rm removes such a file.
func TestHugeCapacityHeader(t *testing.T) {
	dir := segDir(t)
	small, big := uniqueName(t), uniqueName(t)
	makeHuge(t, dir, small, 1<<39, 5)     // 512 GiB claimed, a 5-byte value
	makeHuge(t, dir, big, 1<<30, 200<<20) // a value claiming 200 MiB
	for _, args := range [][]string{{small}, {"-json", small}, {"-follow", "-count", "1", small}, {"-info", small}} {
		r := runTool(t, nil, dir, "subscriber", args...)
		if r.Code != 0 || !strings.Contains(r.Stdout, "small") && args[0] != "-info" {
			t.Errorf("subscriber %q = %d %q, stderr %s; want the 5-byte value", args, r.Code, r.Stdout, r.Stderr)
		}
	}
	for _, args := range [][]string{{big}, {"-json", big}, {"-follow", big}, {"-max-size", "100MiB", big}} {
		want(t, fmt.Sprintf("subscriber %q", args), runTool(t, nil, dir, "subscriber", args...), 1,
			"value larger than the reader's limit: value of 209715200 bytes", "hint: raise the limit with -max-size")
	}
	hugeStats(t, dir, small, big)
	for _, name := range []string{small, big} {
		want(t, "publisher -rm "+name, runTool(t, nil, dir, "publisher", "-rm", name), 0)
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after publisher -rm %s: %v, want it gone", name, err)
		}
	}
}

// hugeStats is TestHugeCapacityHeader's -stats part. -stats reports
// writes and reads no value that was there before it came, so on the
// segments of makeHuge, which nobody writes, it reports none (rather than
// failing on the value of big) and runs on. Once publisher (which adopts
// them, keeping their capacity) writes, -stats reads the value: a small
// one in the 512 GiB segment is observed; one beyond its -max-size in the
// other makes it exit 1 as the other modes do.
func hugeStats(t *testing.T, dir, small, big string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type report struct{ Writes, Observed int }
	next := func(c *child) report {
		t.Helper()
		var r report
		if line := c.readLine(clitest.Timeout); json.Unmarshal([]byte(line), &r) != nil {
			t.Fatalf("%s printed %q, want a JSON report", c.name(), line)
		}
		return r
	}
	for _, name := range []string{small, big} {
		stats := startCmd(t, toolCmd(t, ctx, nil, dir, "subscriber", "-stats", "-json", "-interval", "50ms", "-max-size", "8", name))
		if r := next(stats); r != (report{}) {
			t.Errorf("subscriber -stats %s, nothing written: %+v, want no writes, none observed", name, r)
		}
		value := map[string]string{small: "tiny", big: "more than 8 bytes"}[name]
		want(t, "publisher "+name, runTool(t, nil, dir, "publisher", name, value), 0)
		if name == small {
			r := next(stats)
			for ; r.Writes == 0; r = next(stats) {
			}
			if r != (report{1, 1}) {
				t.Errorf("subscriber -stats %s after one publish: %+v, want 1 write, observed", name, r)
			}
			stats.kill()
			continue
		}
		stats.wait(clitest.Timeout)
		r := clitest.Result{Code: stats.cmd.ProcessState.ExitCode(), Stderr: stats.stderr.String()}
		want(t, "subscriber -stats -max-size 8 "+name, r, 1,
			"value larger than the reader's limit: value of 17 bytes, the limit is 8", "hint: raise the limit with -max-size")
	}
}

// TestRemovedUnderPublisher: a cleanup job deletes the segment file of a
// live publisher. The publisher notices within RemovedCheckInterval and
// exits 1 saying so; -follow and -stats switch to the segment a new
// publisher creates.
func TestRemovedUnderPublisher(t *testing.T) {
	dir := segDir(t)
	name := uniqueName(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pub := startCmd(t, toolCmd(t, ctx, nil, dir, "publisher", "-clock", "-interval", "5ms", name))
	clitest.Eventually(t, "a value in the segment", func() bool { return runTool(t, nil, dir, "subscriber", name).Code == 0 })
	follow := startCmd(t, toolCmd(t, ctx, nil, dir, "subscriber", "-follow", "-json", name))
	follow.readLine(clitest.Timeout)
	stats := startCmd(t, toolCmd(t, ctx, nil, dir, "subscriber", "-stats", "-json", "-interval", "100ms", name))
	stats.readLine(clitest.Timeout)

	removed := time.Now()
	if err := os.Remove(filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
	pub.wait(clitest.Timeout)
	oldDone := time.Now() // the old segment is written no more
	if took := time.Since(removed); pub.cmd.ProcessState.ExitCode() != 1 || !strings.Contains(pub.stderr.String(), "segment was removed while in use") {
		t.Errorf("publisher after its file was deleted: exit %d after %v, stderr %q; want exit 1 saying it was removed",
			pub.cmd.ProcessState.ExitCode(), took, pub.stderr.String())
	}
	// A new publisher: the old followers must see its values.
	want(t, "new publisher", runTool(t, nil, dir, "publisher", name, "after the removal"), 0)
	deadline := time.After(clitest.Timeout)
	for {
		var v struct{ Value string }
		select {
		case line, ok := <-follow.lines:
			if !ok {
				t.Fatalf("subscriber -follow exited: %s", follow.stderr.String())
			}
			json.Unmarshal([]byte(line), &v)
		case <-deadline:
			t.Fatalf("subscriber -follow never printed the new publisher's value")
		}
		if v.Value == "after the removal" {
			break
		}
	}
	// -stats goes on reporting, on the new segment: a report of an
	// interval begun after the old publisher exited that counts writes
	// and observed values is of the new segment's, for nobody writes the
	// old one any more. One still watching the deleted file reports none.
	startCmd(t, toolCmd(t, ctx, nil, dir, "publisher", "-clock", "-interval", "10ms", name))
	for deadline := time.Now().Add(clitest.Timeout); ; {
		var r struct {
			Time     time.Time
			Seconds  float64
			Writes   int
			Observed int
		}
		select {
		case line, ok := <-stats.lines:
			if !ok {
				<-stats.done
				t.Fatalf("subscriber -stats exited: %v; stderr:\n%s", stats.err, stats.stderr.String())
			}
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("subscriber -stats printed %q: %v", line, err)
			}
		case <-time.After(time.Until(deadline)):
			t.Fatalf("subscriber -stats reported no writes of the new segment within %v; stderr:\n%s", clitest.Timeout, stats.stderr.String())
		}
		began := r.Time.Add(-time.Duration(r.Seconds * float64(time.Second)))
		if began.After(oldDone) && r.Writes > 0 && r.Observed > 0 {
			break
		}
	}
}

// TestRemovedWhileWaiting: subscriber -wait waits for a segment that has
// no value yet; a cleanup job deletes it, and a new publisher creates it
// anew with a value before the -wait runs out. -wait prints that value, as
// -follow follows the new segment.
func TestRemovedWhileWaiting(t *testing.T) {
	dir := segDir(t)
	name := uniqueName(t)
	path := filepath.Join(dir, name)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A publisher of standard input, which sends nothing: a segment
	// without a value.
	pub := startCmd(t, toolCmd(t, ctx, nil, dir, "publisher", name))
	clitest.Eventually(t, "a segment without a value", func() bool {
		return strings.Contains(runTool(t, nil, dir, "subscriber", name).Stderr, "no value published yet")
	})
	sub := startCmd(t, toolCmd(t, ctx, nil, dir, "subscriber", "-wait", "15s", name))
	clitest.Eventually(t, "the segment mapped by subscriber -wait", func() bool {
		maps, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", sub.cmd.Process.Pid))
		return bytes.Contains(maps, []byte(path))
	})

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	pub.wait(clitest.Timeout) // exits 1 once it sees its segment removed
	if code, msg := pub.cmd.ProcessState.ExitCode(), pub.stderr.String(); code != 1 ||
		!strings.Contains(msg, "segment was removed while in use") || strings.Contains(msg, "shmfile") {
		t.Errorf("publisher of standard input, its segment removed before a value: exit %d, stderr:\n%s\nwant exit 1 saying it was removed, and nothing about its own failed clean-up", code, msg)
	}
	want(t, "new publisher", runTool(t, nil, dir, "publisher", name, "after the removal"), 0)
	sub.wait(clitest.Timeout)
	var stdout []string
	for line := range sub.lines {
		stdout = append(stdout, line)
	}
	if code := sub.cmd.ProcessState.ExitCode(); code != 0 || len(stdout) != 1 || stdout[0] != "after the removal" {
		t.Errorf("subscriber -wait 15s, its segment removed and created anew with a value: exit %d, stdout %q, stderr:\n%s\nwant exit 0 and the new value",
			code, stdout, sub.stderr.String())
	}
}

// TestForeignPIDNamespace: a publisher in another PID namespace (a
// container sharing the segment directory) shows as alive with its pid
// marked as another namespace's, and no hint suggests killing that pid.
func TestForeignPIDNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for unshare --pid")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("no unshare(1)")
	}
	if out, err := exec.Command(unshare, "--pid", "--fork", "true").CombinedOutput(); err != nil {
		t.Skipf("unshare --pid does not work here (a container without CAP_SYS_ADMIN?): %v: %s", err, out)
	}
	dir := segDir(t)
	name := uniqueName(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, unshare, "--pid", "--fork", "--kill-child", tool(t, "publisher"), "-clock", name)
	cmd.Env = append(os.Environ(), "SEQSHM_DIR="+dir, "GORACE=atexit_sleep_ms=0")
	startCmd(t, cmd)
	clitest.Eventually(t, "a value in the segment", func() bool { return runTool(t, nil, dir, "subscriber", name).Code == 0 })
	r := runTool(t, nil, dir, "subscriber", "-info", name)
	if !strings.Contains(r.Stdout, "alive (pid 1 in another PID namespace") {
		t.Errorf("subscriber -info of a publisher in another PID namespace:\n%s\nwant alive (pid 1 in another PID namespace, ...)", r.Stdout)
	}
	r = runTool(t, nil, dir, "publisher", name, "second")
	want(t, "second publisher", r, 1, "pid 1 in another PID namespace")
	if strings.Contains(r.Stderr, "kill 1") {
		t.Errorf("a hint suggests killing pid 1 of another namespace:\n%s", r.Stderr)
	}
	want(t, "publisher -rm", runTool(t, nil, dir, "publisher", "-rm", name), 1, "pid 1 in another PID namespace")
}

// TestForeignFollowerSleeps: a subscriber of another user, who may read a
// segment (mode 0644) but not write it, sleeps on the publisher's foreign
// waiter area (System V shared memory it may write) instead of polling: it
// has the area mapped, is found asleep in a futex wait on a word of that
// area between values, and still wakes for each value.
func TestForeignFollowerSleeps(t *testing.T) {
	b := otherUser(t)
	futexNR := map[string]string{"amd64": "202", "arm64": "98"}[runtime.GOARCH]
	if futexNR == "" {
		t.Skipf("futex system call number unknown on %s", runtime.GOARCH)
	}
	dir := sharedDir(t)
	name := uniqueName(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pub := startCmd(t, toolCmd(t, ctx, nil, dir, "publisher", "-mode", "0644", "-clock", "-interval", "500ms", name))
	clitest.Eventually(t, "a value in the segment", func() bool { return runTool(t, nil, dir, "subscriber", name).Code == 0 })
	follow := startCmd(t, toolCmd(t, ctx, b, dir, "subscriber", "-follow", name))
	for range 2 {
		follow.readLine(clitest.Timeout)
	}
	pid := follow.cmd.Process.Pid
	lo, hi := sysvRange(t, pid)
	if lo == 0 {
		t.Fatalf("the other user's follower has no System V waiter area mapped: it polls")
	}
	asleep := false
	for i := 0; i < 100 && !asleep; i++ {
		asleep = inFutexWait(pid, futexNR, lo, hi)
		time.Sleep(20 * time.Millisecond)
	}
	if !asleep {
		t.Errorf("the other user's follower was never seen in a futex wait on its waiter area [%#x, %#x)", lo, hi)
	}
	follow.readLine(clitest.Timeout) // still woken by the next value
	pub.kill()
}

// sysvRange returns the address range of the System V mapping of process
// pid, or 0, 0.
func sysvRange(t *testing.T, pid int) (lo, hi uint64) {
	t.Helper()
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(maps), "\n") {
		if !strings.Contains(line, "/SYSV") {
			continue
		}
		a, z, _ := strings.Cut(strings.Fields(line)[0], "-")
		lo, _ = strconv.ParseUint(a, 16, 64)
		hi, _ = strconv.ParseUint(z, 16, 64)
		return lo, hi
	}
	return 0, 0
}

// inFutexWait reports whether a thread of pid is in the futex system call
// (number nr) on an address in [lo, hi).
func inFutexWait(pid int, nr string, lo, hi uint64) bool {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/syscall", pid, task.Name()))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) < 2 || f[0] != nr {
			continue
		}
		if addr, err := strconv.ParseUint(strings.TrimPrefix(f[1], "0x"), 16, 64); err == nil && lo <= addr && addr < hi {
			return true
		}
	}
	return false
}

// TestPermissionMessages: permission errors name the real cause: another
// user's segment, a directory this user may not write; and -list by a user
// who may not read a file leaves it out instead of showing it as broken.
func TestPermissionMessages(t *testing.T) {
	b := otherUser(t)
	dir := sharedDir(t)
	name := uniqueName(t)
	want(t, "root: publisher (0600)", runTool(t, nil, dir, "publisher", name, "secret"), 0)
	want(t, "B: subscriber of root's 0600 segment", runTool(t, b, dir, "subscriber", name), 1,
		"permission denied: segment belongs to root (uid 0), mode 0600", "hint: ", "-mode 0644")

	closed := filepath.Join(dir, "closed")
	if err := os.Mkdir(closed, 0o755); err != nil {
		t.Fatal(err)
	}
	want(t, "B: publisher in root's 0755 directory", runTool(t, b, closed, "publisher", "x", "v"), 1,
		"permission denied: cannot create segments in "+closed, "hint: ")

	if err := os.WriteFile(filepath.Join(dir, "other-program"), []byte("not ours"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runTool(t, b, dir, "subscriber", "-list")
	if r.Code != 0 || strings.Contains(r.Stdout, name) || strings.Contains(r.Stdout, "other-program") {
		t.Errorf("B: subscriber -list = exit %d:\n%s%s\nwant root's private files left out", r.Code, r.Stdout, r.Stderr)
	}
}

// TestOutOfInodes: a segment directory out of inodes (ENOSPC on create with
// space left) is an error with a hint, not a misleading one.
func TestOutOfInodes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m,nr_inodes=3,mode=1777", "seqshm-test", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	var last clitest.Result
	for i := range 5 {
		last = runTool(t, nil, dir, "publisher", fmt.Sprintf("s%d", i), "v")
		if last.Code != 0 {
			break
		}
	}
	want(t, "publisher with no inodes left", last, 1, "no space left in "+dir+" for a new file (out of inodes?)", "hint: ")
}

func init() { roles["foreign-hammer"] = foreignHammer }

// foreignHammer, a helper process run as another user, attaches the
// foreign waiter area of segment file args[0] (it may: the segment is
// readable by others, so the area is writable by them), says "attached",
// and for args[1] (a duration) writes its waiter word as a hostile waiter
// would: the waiter bit set again at once after every clear, and garbage
// in between.
func foreignHammer(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("want SEGMENT-FILE DURATION")
	}
	d, err := time.ParseDuration(args[1])
	if err != nil {
		return err
	}
	notify, err := fileWord(args[0], offNotify)
	if err != nil {
		return err
	}
	id, err := fileWord(args[0], int64(notify)+8) // the foreign area's id + 1
	if err != nil {
		return err
	}
	if id == 0 {
		return fmt.Errorf("the segment records no foreign waiter area")
	}
	area, err := unix.SysvShmAttach(int(id-1), 0, 0)
	if err != nil {
		return fmt.Errorf("shmat %d: %w", id-1, err)
	}
	defer unix.SysvShmDetach(area)
	word := (*uint32)(unsafe.Pointer(&area[0]))
	fmt.Println("attached")
	var n uint64
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := range uint32(1000) {
			atomic.OrUint32(word, 1)
			atomic.StoreUint32(word, i*2654435761|1) // any value, bit set
			n++
		}
	}
	fmt.Printf("stores=%d\n", 2*n)
	return nil
}

// TestForeignWaiterHammered: another user who may read a segment may write
// its foreign waiter area, and does so as hard as it can (the waiter bit
// set again after every clear, garbage in the word). The publisher must
// treat the word as hostile: every Publish completes (it tries to clear
// the bit a bounded number of times, then wakes anyway), and readers see
// every value intact. At worst it costs the publisher a wake-up per
// publish (the rate with and without the hammer is logged, not asserted).
func TestForeignWaiterHammered(t *testing.T) {
	b := otherUser(t)
	dir := sharedDir(t)
	t.Setenv("SEQSHM_DIR", dir)
	name := uniqueName(t)
	p, err := seqlock.Create(name, &seqlock.Options{Capacity: 64, Mode: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// The test binary, where the other user may run it.
	exeDir, err := os.MkdirTemp("", "seqshm-hammer-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(exeDir)
	exe := filepath.Join(exeDir, "reliability.test")
	if err := copyFile(os.Args[0], exe); err != nil {
		t.Fatal(err)
	}
	os.Chmod(exeDir, 0o755)

	publish := func(n uint64) (rate float64) {
		val := make([]byte, 64)
		start := time.Now()
		for i := uint64(1); i <= n; i++ {
			binary.LittleEndian.PutUint64(val, i)
			binary.LittleEndian.PutUint64(val[56:], ^i) // a checksum of sorts
			if _, err := p.Publish(val); err != nil {
				t.Fatalf("Publish %d with a hostile waiter: %v", i, err)
			}
		}
		return float64(n) / time.Since(start).Seconds()
	}
	const n = 200_000
	alone := publish(n)

	// The hammer runs until killed (an hour at most), so that a publisher
	// that waited for it to stop would be caught blocked.
	cmd := testproc.Command("foreign-hammer", filepath.Join(dir, name), "1h")
	cmd.Path = exe // the copy the other user may run
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: b.uid, Gid: b.gid}}
	hammer := startCmd(t, cmd)
	defer hammer.kill()
	if line := hammer.readLine(clitest.Timeout); line != "attached" {
		t.Fatalf("the hostile waiter (as %s) did not attach: %q, stderr %q", b.name, line, hammer.stderr.String())
	}
	// A reader checks every value it sees while the hammer runs.
	s, err := seqlock.Open(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stop := make(chan struct{})
	var bad, seen int
	var readerDone sync.WaitGroup
	readerDone.Add(1)
	go func() {
		defer readerDone.Done()
		buf := make([]byte, 64)
		for {
			select {
			case <-stop:
				return
			default:
			}
			m, err := s.Read(buf)
			if err != nil || m.Len != 64 {
				continue
			}
			seen++
			if i := binary.LittleEndian.Uint64(buf); binary.LittleEndian.Uint64(buf[56:]) != ^i {
				bad++
			}
		}
	}()
	done := make(chan float64, 1)
	go func() { done <- publish(n) }()
	var hammered float64
	select {
	case hammered = <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%d publishes took over 30 s under a hostile foreign waiter: blocked", n)
	}
	close(stop)
	readerDone.Wait()
	if bad != 0 || seen == 0 {
		t.Errorf("reader saw %d values, %d of them not intact; want all intact", seen, bad)
	}
	v, m, err := s.ReadValue(nil)
	if err != nil || m.Seq != 2*n || binary.LittleEndian.Uint64(v) != n {
		t.Errorf("after the hostile run: value %x, write %d, %v; want value %d, write %d", v, m.Seq, err, n, 2*n)
	}
	t.Logf("publishes/s: %.0f alone, %.0f with a hostile waiter", alone, hammered)
}

// copyFile copies file src to dst, executable.
func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}
