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

	"github.com/seqshm/seqshm/schema"
	"github.com/seqshm/seqshm/seqlock"
)

// childEnv selects the helper role of a re-executed test binary: with it
// set, TestMain runs the role it names instead of the tests.
const childEnv = "SEQSHM_EXPORTER_CHILD"

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		if err := runChild(role, os.Args[len(os.Args)-2:]); err != nil {
			fmt.Fprintln(os.Stderr, "exporter child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runChild runs the role "publish-text NAME VALUE": create the text
// segment NAME, publish VALUE, say "ready" and wait to be killed.
func runChild(role string, args []string) error {
	if role != "publish-text" {
		return fmt.Errorf("unknown role %q", role)
	}
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
}

// startChild starts the test binary in role with args, in the segment
// directory of the test, and waits for its "ready". The child is killed at
// the end of the test if it still runs.
func startChild(t *testing.T, role string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$"}, args...)...)
	cmd.Env = append(os.Environ(), childEnv+"="+role)
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
