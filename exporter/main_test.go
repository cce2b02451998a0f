package exporter_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seqshm/seqshm/internal/testproc"
	"github.com/seqshm/seqshm/schema"
	"github.com/seqshm/seqshm/seqlock"
)

func TestMain(m *testing.M) {
	os.Exit(testproc.Main(m, map[string]testproc.Role{"publish-text": publishText}))
}

// publishText is the helper role "publish-text NAME VALUE": create the
// text segment NAME, publish VALUE, say "ready" and wait to be killed.
func publishText(args []string) int {
	if err := func() error {
		text, _ := schema.ForKind(schema.Text)
		pub, err := seqlock.Create(args[0], &seqlock.Options{Schema: text})
		if err != nil {
			return err
		}
		if _, err := pub.Publish([]byte(args[1])); err != nil {
			return err
		}
		fmt.Println("ready")
		time.Sleep(time.Minute) // killed long before
		return fmt.Errorf("not killed")
	}(); err != nil {
		fmt.Fprintln(os.Stderr, "exporter child:", err)
		return 1
	}
	return 0
}

// startChild starts the test binary in role with args, in the segment
// directory of the test, and waits for its "ready". The child is killed at
// the end of the test if it still runs.
func startChild(t *testing.T, role string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := testproc.Command(role, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(l)
	}()
	select {
	case l := <-line:
		if l != "ready" {
			t.Fatalf("child %s: said %q, want ready", role, l)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("child %s: not ready after 20s", role)
	}
	return cmd
}
