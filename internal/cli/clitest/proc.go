package clitest

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// A Proc is a running tool. Its standard input is a pipe the test writes;
// its standard output is read line by line. It is killed when the test
// ends, if it has not exited.
type Proc struct {
	t     *testing.T
	desc  string
	Stdin io.WriteCloser
	PID   int
	lines chan string
	stop  chan struct{} // closed when the test ends: output is discarded

	mu     sync.Mutex
	stderr bytes.Buffer

	done chan struct{} // closed when the process has exited
	code int
}

// Start starts tool with args.
func (e *Env) Start(t *testing.T, tool string, args ...string) *Proc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := e.command(ctx, tool, args)
	p := &Proc{t: t, desc: tool + " " + strings.Join(args, " "), lines: make(chan string, 1024), done: make(chan struct{}), stop: make(chan struct{})}
	cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.stderr.Write(b)
	})
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.desc, err)
	}
	p.Stdin, p.PID = stdin, cmd.Process.Pid
	var reading sync.WaitGroup
	reading.Go(func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			case <-p.stop:
			}
		}
	})
	go func() {
		reading.Wait() // Wait closes stdout: read it all first
		cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		close(p.stop)
		cancel() // kills the process if it is still running
		<-p.done
	})
	return p
}

// Line returns the next line of the process's standard output, failing the
// test if none comes within Timeout.
func (p *Proc) Line() string {
	p.t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			p.t.Fatalf("%s: output ended; stderr:\n%s", p.desc, p.Stderr())
		}
		return l
	case <-time.After(Timeout):
		p.t.Fatalf("%s: no output line after %v; stderr:\n%s", p.desc, Timeout, p.Stderr())
	}
	return ""
}

// Write writes s to the process's standard input.
func (p *Proc) Write(s string) {
	p.t.Helper()
	if _, err := io.WriteString(p.Stdin, s); err != nil {
		p.t.Fatalf("%s: write stdin: %v", p.desc, err)
	}
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) {
	p.t.Helper()
	proc, err := os.FindProcess(p.PID)
	if err == nil {
		err = proc.Signal(sig)
	}
	if err != nil {
		p.t.Fatalf("%s: signal %v: %v", p.desc, sig, err)
	}
}

// Wait waits for the process to exit, failing the test if it has not
// within Timeout, and returns its exit code (-1 if killed by a signal).
func (p *Proc) Wait() int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(Timeout):
		p.t.Fatalf("%s: still running after %v; stderr:\n%s", p.desc, Timeout, p.Stderr())
	}
	return 0
}

// Stderr returns what the process wrote to standard error so far.
func (p *Proc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
