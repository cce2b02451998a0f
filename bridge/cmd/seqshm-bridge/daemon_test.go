package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seqshm/seqshm/bridge/natstest"
	"github.com/seqshm/seqshm/seqlock"
)

func TestHelpExamples(t *testing.T) {
	_, stdout, _ := exec(t, context.Background(), "-h")
	for _, want := range []string{"Examples:", "'robot1.*'", "'robot1.>'", "run -health"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("-h does not show %q", want)
		}
	}
}

// TestRunConfig: "run" with a config file exports the segments of a glob
// and imports them back by a key wildcard, through one connection, and
// serves /healthz.
func TestRunConfig(t *testing.T) {
	t.Setenv("SEQSHM_DIR", t.TempDir())
	srv := natstest.Start(t, nil)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(t.TempDir(), "bridge.json")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`{
  "server": %q,
  "health": %q,
  "max_rate": "50/s",
  "spin": "200us",
  "export": [{"segments": "src.*", "key_prefix": "site."}],
  "import": [{"keys": "site.src.>", "strip": "site.src.", "name_prefix": "dst.", "capacity": "1KiB"}]
}`, srv.URL(), addr)), 0o600)
	var pubs []*seqlock.Publisher
	for i := range 3 {
		p, err := seqlock.Create(fmt.Sprintf("src.%d", i), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		p.Publish([]byte(fmt.Sprintf("v%d", i)))
		pubs = append(pubs, p)
	}
	stop, stderr := backgroundLog(t, "run", "-status", "100ms", cfg)
	for i := range pubs {
		s := openWait(t, fmt.Sprintf("dst.%d", i))
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		for after := uint64(0); ; {
			v, _, _ := s.ReadValue(nil)
			if string(v) == fmt.Sprintf("v%d", i) {
				break
			}
			var err error
			if after, err = s.Wait(ctx, after); err != nil {
				t.Fatalf("dst.%d never held v%d: %v", i, i, err)
			}
		}
		cancel()
		s.Close()
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var h health
	json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if resp.StatusCode != 200 || !h.Connected || h.Exporting != 3 || h.Importing != 3 {
		t.Errorf("/healthz = %d %+v, want 200, connected, 3 exporting, 3 importing", resp.StatusCode, h)
	}
	waitFor(t, stderr, "status: connected to")
	if code, stderr := stop(); code != 0 || !strings.Contains(stderr, "exporting 3 segments, importing 3 keys") {
		t.Errorf("run stopped with exit %d, stderr:\n%s\nwant exit 0 and status lines", code, stderr)
	}
}

// TestConfigErrors: each mistake in a config file is an error (exit 1)
// naming the file and the field, before any connection is made.
func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ config, want string }{
		{`{"export": [{"segments": "a.*"}], "colour": "red"}`, `unknown field "colour"`},
		{`{"export": [{"segments": "a.*"}]`, "invalid config"},
		{`{}`, "nothing to do"},
		{`{"max_rate": "fast", "export": [{"segments": "a.*"}]}`, `max_rate: invalid rate "fast"`},
		{`{"envelope": "xml", "export": [{"segments": "a.*"}]}`, `envelope: `},
		{`{"stale": "-1s", "export": [{"segments": "a.*"}]}`, `stale "-1s": want a positive duration`},
		{`{"spin": "1s", "export": [{"segments": "a.*"}]}`, `spin "1s": want a duration from 0 to 10ms`},
		{`{"export": [{"segments": ""}]}`, `export[0]: segments ""`},
		{`{"export": [{"segments": "a.*", "key_prefix": "a b."}]}`, `export[0]: segments "a.*", key_prefix "a b."`},
		{`{"import": [{"keys": "a..>"}]}`, `import[0]: keys "a..>"`},
		{`{"import": [{"keys": "a.>", "capacity": "lots"}]}`, `import[0]: capacity: invalid size "lots"`},
		{`{"import": [{"keys": "a.>", "mode": "999"}]}`, `import[0]: mode: invalid mode "999"`},
	} {
		cfg := filepath.Join(dir, "bridge.json")
		os.WriteFile(cfg, []byte(tc.config), 0o600)
		code, _, stderr := exec(t, context.Background(), "run", "-server", "nats://127.0.0.1:1", cfg)
		if code != 1 || !strings.Contains(stderr, cfg) || !strings.Contains(stderr, tc.want) {
			t.Errorf("run with %s = exit %d, stderr:\n%s\nwant exit 1 naming the file and %q", tc.config, code, stderr, tc.want)
		}
	}
	code, _, stderr := exec(t, context.Background(), "run", filepath.Join(dir, "missing.json"))
	if code != 1 || !strings.Contains(stderr, "cannot read config") {
		t.Errorf("run with a missing file = exit %d, stderr:\n%s\nwant exit 1, cannot read config", code, stderr)
	}
}

// TestSIGTERM: the built command stops cleanly on SIGTERM: exit 0, its
// key released.
func TestSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	t.Setenv("SEQSHM_DIR", t.TempDir())
	bin := filepath.Join(t.TempDir(), "seqshm-bridge")
	if out, err := osexec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Skipf("cannot build the command (no go tool?): %v\n%s", err, out)
	}
	srv := natstest.Start(t, nil)
	p, err := seqlock.Create("term", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Publish([]byte("x"))
	cmd := osexec.Command(bin, "export", "-server", srv.URL(), "term")
	var errb syncBuffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, &errb, "exporting segment")
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil || !strings.Contains(errb.String(), `released key "term"`) {
			t.Errorf("after SIGTERM: %v, stderr:\n%s\nwant exit 0 and the key released", err, errb.String())
		}
	case <-time.After(hangGuard):
		cmd.Process.Kill()
		t.Fatalf("no exit after SIGTERM; stderr:\n%s", errb.String())
	}
}
