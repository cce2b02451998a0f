package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seqshm/seqshm/internal/cli"
	"github.com/seqshm/seqshm/internal/cli/clitest"
)

// The tests run the real publisher and subscriber as separate processes.
var bins clitest.Binaries

func TestMain(m *testing.M) {
	os.Exit(clitest.Main(m, &bins, "publisher", "subscriber"))
}

// value is a value as -json prints it; raw keeps the keys present.
type value struct {
	Name        string    `json:"name"`
	Seq         uint64    `json:"seq"`
	Time        time.Time `json:"time"`
	Value       *string   `json:"value"`
	ValueBase64 []byte    `json:"value_base64"`
	raw         map[string]any
}

func decodeValue(t *testing.T, line string) value {
	t.Helper()
	var v value
	if err := json.Unmarshal([]byte(line), &v); err != nil {
		t.Fatalf("decode %q: %v", line, err)
	}
	if err := json.Unmarshal([]byte(line), &v.raw); err != nil {
		t.Fatalf("decode %q: %v", line, err)
	}
	return v
}

func TestRead(t *testing.T) {
	t.Parallel()
	env := clitest.New(t, bins)
	name := clitest.Name(t)

	r := env.Run(t, "", "subscriber", name)
	want := fmt.Sprintf("subscriber: %[1]s: no such segment\n"+
		"hint: start a publisher (publisher %[1]s VALUE), or wait for one with -wait 10s\n"+
		"hint: list segments with: subscriber -list (they are in %[2]s)\n", name, env.Dir)
	if r.Code != 1 || r.Stderr != want || r.Stdout != "" {
		t.Errorf("subscriber %s with no segment: exit %d, stderr:\n%s\nwant exit 1, stderr:\n%s", name, r.Code, r.Stderr, want)
	}

	// A publisher that has created the segment but published nothing.
	pub := env.Start(t, "publisher", name)
	clitest.Eventually(t, "segment created", func() bool {
		_, err := os.Stat(filepath.Join(env.Dir, name))
		return err == nil
	})
	clitest.Eventually(t, "no value yet", func() bool {
		r = env.Run(t, "", "subscriber", name)
		return !strings.Contains(r.Stderr, "not initialised")
	})
	want = fmt.Sprintf("subscriber: %s: no value published yet\nhint: wait for one with -wait 10s, or print each one as it comes with -follow\n", name)
	if r.Code != 1 || r.Stderr != want {
		t.Errorf("subscriber %s with no value: exit %d, stderr:\n%s\nwant exit 1, stderr:\n%s", name, r.Code, r.Stderr, want)
	}
	r = env.Run(t, "", "subscriber", "-wait", "50ms", name)
	want = fmt.Sprintf("subscriber: %s: no value published yet (waited 50ms)\n", name)
	if r.Code != 1 || !strings.HasPrefix(r.Stderr, want) {
		t.Errorf("subscriber -wait 50ms %s with no value: exit %d, stderr:\n%s\nwant exit 1 and %q", name, r.Code, r.Stderr, want)
	}

	// -wait for the first value, which comes while it waits.
	sub := env.Start(t, "subscriber", "-wait", "20s", name)
	pub.Write("first\n")
	if got := sub.Line(); got != "first" {
		t.Errorf("subscriber -wait 20s = %q, want %q", got, "first")
	}
	if code := sub.Wait(); code != 0 {
		t.Errorf("subscriber -wait 20s: exit %d, want 0; stderr:\n%s", code, sub.Stderr())
	}
	pub.Stdin.Close()
	pub.Wait()
}

func TestWait(t *testing.T) {
	t.Parallel()
	env := clitest.New(t, bins)
	name := clitest.Name(t)

	r := env.Run(t, "", "subscriber", "-wait", "100ms", name)
	want := fmt.Sprintf("subscriber: %[1]s: no such segment (waited 100ms)\nhint: start a publisher: publisher %[1]s VALUE\n", name)
	if r.Code != 1 || !strings.HasPrefix(r.Stderr, want) {
		t.Errorf("subscriber -wait 100ms with no segment: exit %d, stderr:\n%s\nwant exit 1 and %q", r.Code, r.Stderr, want)
	}

	// The segment comes while the subscriber waits.
	for _, mode := range [][]string{nil, {"-info", "-json"}} {
		sub := env.Start(t, "subscriber", append(mode, "-wait", "20s", name)...)
		env.MustRun(t, "publisher", name, "late")
		line := sub.Line()
		if code := sub.Wait(); code != 0 {
			t.Errorf("subscriber %q -wait 20s: exit %d, want 0; stderr:\n%s", mode, code, sub.Stderr())
		}
		if mode == nil && line != "late" {
			t.Errorf("subscriber -wait 20s = %q, want %q", line, "late")
		}
		env.MustRun(t, "publisher", "-rm", name)
	}
}

func TestJSON(t *testing.T) {
	t.Parallel()
	env := clitest.New(t, bins)
	for _, tt := range []struct {
		name    string
		args    []string
		value   string
		stamped bool
	}{
		{"text", nil, "héllo, wörld", true},
		{"empty", nil, "", true},
		{"binary", []string{"-type", "bytes"}, "\xff\x00\xfe", true},
		{"unstamped", []string{"-no-timestamp"}, "no time", false},
	} {
		before := time.Now()
		// Through stdin: an argument cannot hold a NUL byte.
		if r := env.Run(t, tt.value+"\n", "publisher", append(tt.args, tt.name)...); r.Code != 0 {
			t.Fatalf("publisher %s: exit %d; stderr:\n%s", tt.name, r.Code, r.Stderr)
		}
		out := env.MustRun(t, "subscriber", "-json", tt.name)
		v := decodeValue(t, strings.TrimSuffix(out, "\n"))
		if v.Name != tt.name || v.Seq != 1 {
			t.Errorf("%s: name %q seq %d, want %q 1", tt.name, v.Name, v.Seq, tt.name)
		}
		switch _, has := v.raw["time"]; {
		case tt.stamped && (v.Time.Before(before.Add(-time.Second)) || v.Time.After(time.Now())):
			t.Errorf("%s: time %v, want between %v and now", tt.name, v.Time, before)
		case !tt.stamped && has:
			t.Errorf("%s: time %v for an unstamped value, want none", tt.name, v.raw["time"])
		}
		if tt.name == "binary" {
			if v.Value != nil || !bytes.Equal(v.ValueBase64, []byte(tt.value)) {
				t.Errorf("%s: %s\nwant only value_base64 of %q", tt.name, out, tt.value)
			}
		} else if v.Value == nil || *v.Value != tt.value || v.raw["value_base64"] != nil {
			t.Errorf("%s: %s\nwant value %q", tt.name, out, tt.value)
		}
	}
}

func TestFollow(t *testing.T) {
	t.Parallel()
	env := clitest.New(t, bins)
	name := clitest.Name(t)
	env.MustRun(t, "publisher", name, "retained")
	sub := env.Start(t, "subscriber", "-follow", "-json", name)
	if v := decodeValue(t, sub.Line()); *v.Value != "retained" || v.Seq != 1 {
		t.Errorf("first value %+v, want the retained one, seq 1", v)
	}
	// Publishers come and go; one dies. The subscriber goes on.
	env.MustRun(t, "publisher", name, "second")
	pub := env.Start(t, "publisher", name)
	pub.Write("third\n")
	if v := decodeValue(t, sub.Line()); *v.Value != "second" || v.Seq != 2 {
		t.Errorf("value %+v, want second, seq 2", v)
	}
	if v := decodeValue(t, sub.Line()); *v.Value != "third" || v.Seq != 3 {
		t.Errorf("value %+v, want third, seq 3", v)
	}
	pub.Signal(os.Kill)
	pub.Wait()
	env.MustRun(t, "publisher", name, "after a death")
	if v := decodeValue(t, sub.Line()); *v.Value != "after a death" || v.Seq != 4 {
		t.Errorf("value %+v, want after a death, seq 4", v)
	}

	// -count: exits after N values.
	r := env.Run(t, "", "subscriber", "-follow", "-count", "1", name)
	if r.Code != 0 || r.Stdout != "after a death\n" {
		t.Errorf("subscriber -follow -count 1: exit %d, stdout %q", r.Code, r.Stdout)
	}

	// The segment is removed and created anew: the follower notices
	// (within about a second), reopens it and goes on from its values.
	if runtime.GOOS == "windows" {
		return
	}
	env.MustRun(t, "publisher", "-rm", name)
	env.MustRun(t, "publisher", "-capacity", "64", name, "a new segment")
	if v := decodeValue(t, sub.Line()); *v.Value != "a new segment" || v.Seq != 1 {
		t.Errorf("value %+v after the segment was replaced, want a new segment, seq 1", v)
	}
}

// TestFollowIdles checks that a following subscriber sleeps while no value
// comes, and wakes for one.
func TestFollowIdles(t *testing.T) {
	t.Parallel()
	env := clitest.New(t, bins)
	name := clitest.Name(t)
	env.MustRun(t, "publisher", name, "v1")
	sub := env.Start(t, "subscriber", "-follow", name)
	if got := sub.Line(); got != "v1" {
		t.Fatalf("first value %q, want v1", got)
	}
	cpu0, err := clitest.CPUTime(sub.PID)
	if errors.Is(err, clitest.ErrNoCPUTime) {
		t.Skip("cannot read another process's CPU time on", runtime.GOOS)
	}
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	cpu1, err := clitest.CPUTime(sub.PID)
	if err != nil {
		t.Fatal(err)
	}
	if used := cpu1 - cpu0; used > 50*time.Millisecond {
		t.Errorf("idle subscriber -follow used %v of CPU in a second, want < 50ms", used)
	}
	env.MustRun(t, "publisher", name, "v2")
	if got := sub.Line(); got != "v2" {
		t.Errorf("value after idling %q, want v2", got)
	}
	if runtime.GOOS == "windows" {
		return
	}
	sub.Signal(syscall.SIGINT)
	if code := sub.Wait(); code != 0 {
		t.Errorf("subscriber -follow after SIGINT: exit %d, want 0; stderr:\n%s", code, sub.Stderr())
	}
}

func TestInfoAndList(t *testing.T) {
	t.Parallel()
	env := clitest.New(t, bins)
	if out := env.MustRun(t, "subscriber", "-list"); out != "" {
		t.Errorf("subscriber -list with no segments = %q, want nothing", out)
	}
	env.MustRun(t, "publisher", "-capacity", "64", "-mode", "0644", "a", "alpha")
	pub := env.Start(t, "publisher", "b")
	pub.Write("beta!\n")
	if err := os.WriteFile(filepath.Join(env.Dir, "foreign"), bytes.Repeat([]byte{0xAA}, 8192), 0o600); err != nil {
		t.Fatal(err)
	}
	clitest.Eventually(t, "b published", func() bool {
		return env.Run(t, "", "subscriber", "b").Stdout == "beta!\n"
	})

	out := env.MustRun(t, "subscriber", "-info", "a")
	for _, re := range []string{
		`(?m)^name:\s+a$`, `(?m)^capacity:\s+64 bytes$`, `(?m)^writes:\s+1$`, `(?m)^length:\s+5 bytes$`,
		`(?m)^published:\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) \(.+ ago\)$`,
		`(?m)^writer:\s+closed \(last pid \d+\)$`, `(?m)^mode:\s+0644 \(-rw-r--r--\)$`, `(?m)^size:\s+\d+ bytes$`,
		`(?m)^created:\s+\d{4}-`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("subscriber -info a: no line matching %s in:\n%s", re, out)
		}
	}
	if !regexp.MustCompile(fmt.Sprintf(`(?m)^writer:\s+alive \(pid %d, since `, pub.PID)).MatchString(env.MustRun(t, "subscriber", "-info", "b")) {
		t.Errorf("subscriber -info b: writer not alive with pid %d", pub.PID)
	}

	var a clitest.Status
	if err := json.Unmarshal([]byte(env.MustRun(t, "subscriber", "-info", "-json", "a")), &a); err != nil {
		t.Fatal(err)
	}
	if a.Name != "a" || a.Capacity != 64 || a.Seq != 1 || a.Len != 5 || a.Writer != "closed" || a.PID == 0 ||
		a.Mode != "0644" || a.Size == 0 || a.Time.IsZero() || a.AgeSeconds <= 0 || a.Created.IsZero() {
		t.Errorf("subscriber -info -json a = %+v", a)
	}

	me := strconv.Itoa(os.Geteuid())
	if u, err := user.Current(); err == nil {
		me = u.Username
	}
	out = env.MustRun(t, "subscriber", "-list")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	wantRows := []string{
		`^NAME +KIND +CAPACITY +WRITES +LEN +AGE +WRITER +PID +OWNER +MODE +SIZE +CREATED$`,
		`^a +text +64 +1 +5 +\S+ +closed +\d+ +` + me + ` +0644 +\d+ +\d{4}-\S+$`,
		fmt.Sprintf(`^b +text +4096 +1 +5 +\S+ +alive +%d +%s +0600 +\d+ +\d{4}-\S+$`, pub.PID, me),
	}
	if len(lines) != len(wantRows) {
		t.Fatalf("subscriber -list: %d lines, want %d (foreign files skipped):\n%s", len(lines), len(wantRows), out)
	}
	for i, re := range wantRows {
		if !regexp.MustCompile(re).MatchString(lines[i]) {
			t.Errorf("subscriber -list line %d = %q, want match for %s", i, lines[i], re)
		}
	}
	out = env.MustRun(t, "subscriber", "-list", "-json")
	var got []clitest.Status
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var st clitest.Status
		if err := json.Unmarshal([]byte(l), &st); err != nil {
			t.Fatalf("subscriber -list -json line %q: %v", l, err)
		}
		got = append(got, st)
	}
	if len(got) != 2 || got[0].Name != "a" || got[1].Name != "b" || got[1].Writer != "alive" || got[1].PID != pub.PID {
		t.Errorf("subscriber -list -json = %+v, want a, then b alive with pid %d", got, pub.PID)
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	env := clitest.New(t, bins)
	for _, tt := range []struct {
		name    string
		pubArgs []string
		subArgs []string
		want    string // regexp for the text report
	}{
		{"stamped", nil, nil, `^stamped: \d+ writes/s, \d+ observed, \d+ coalesced, latency p50 \S+ p99 \S+ max \S+$`},
		{"spin", nil, []string{"-spin"}, `^spin: \d+ writes/s, \d+ observed, \d+ coalesced, latency p50 \S+ p99 \S+ max \S+$`},
		{"unstamped", []string{"-no-timestamp"}, nil, `^unstamped: \d+ writes/s, \d+ observed, \d+ coalesced, latency n/a \(unstamped\)$`},
		{"json", nil, []string{"-json"}, `^\{"name":"json",.*"latency_p50_ns":\d+,"latency_p99_ns":\d+,"latency_max_ns":\d+\}$`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env.Start(t, "publisher", append(tt.pubArgs, "-clock", "-interval", "1ms", tt.name)...)
			clitest.Eventually(t, "clock ticking", func() bool {
				return env.Run(t, "", "subscriber", tt.name).Code == 0
			})
			sub := env.Start(t, "subscriber", append(tt.subArgs, "-stats", "-interval", "200ms", tt.name)...)
			line := sub.Line()
			if !regexp.MustCompile(tt.want).MatchString(line) {
				t.Errorf("subscriber -stats %q: %q, want match for %s", tt.subArgs, line, tt.want)
			}
			if tt.name == "json" {
				var st statsJSON
				if err := json.Unmarshal([]byte(line), &st); err != nil {
					t.Fatal(err)
				}
				if st.Writes == 0 || st.Observed == 0 || uint64(st.Observed)+st.Coalesced != st.Writes || *st.P50NS > *st.MaxNS {
					t.Errorf("subscriber -stats -json = %s: want writes = observed + coalesced > 0, p50 <= max", line)
				}
			}
		})
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	env := clitest.New(t, bins)
	r := env.Run(t, "", "subscriber", "-h")
	if r.Code != 0 || !strings.HasPrefix(r.Stdout, "usage: subscriber") || !strings.Contains(r.Stdout, "Examples:") || r.Stderr != "" {
		t.Errorf("subscriber -h: exit %d, stdout:\n%s\nstderr:\n%s\nwant exit 0 and the manual on stdout", r.Code, r.Stdout, r.Stderr)
	}
	for _, tt := range []struct {
		args []string
		want string // first line of stderr
	}{
		{nil, "subscriber: missing segment NAME"},
		{[]string{"-bogus", "n"}, "subscriber: flag provided but not defined: -bogus"},
		{[]string{"-wait", "soon", "n"}, `subscriber: invalid value "soon" for flag -wait`},
		{[]string{"-follow", "-info", "n"}, "subscriber: -follow and -info do not go together"},
		{[]string{"-list", "n"}, `subscriber: -list takes no NAME (got "n")`},
		{[]string{"-count", "3", "n"}, "subscriber: -count goes with -follow"},
		{[]string{"-spin", "n"}, "subscriber: -spin goes with -stats"},
		{[]string{"n", "-json"}, `subscriber: one NAME only, then nothing (got "-json"; flags go before NAME)`},
		{[]string{"a/b"}, `subscriber: invalid segment name "a/b": character '/' at offset 1 not in [A-Za-z0-9._-]`},
		{[]string{""}, `subscriber: invalid segment name "": empty`},
		{[]string{"-field", "x", "-info", "n"}, "subscriber: -field goes with printing values"},
		{[]string{"-list", "-owner", "root"}, "subscriber: -list does not go with -owner"},
		{[]string{"-max-size", "0", "n"}, `subscriber: invalid value "0" for flag -max-size`},
	} {
		r := runInProcess(tt.args...)
		first, _, _ := strings.Cut(r.Stderr, "\n")
		if r.Code != 2 || !strings.HasPrefix(first, tt.want) || r.Stdout != "" {
			t.Errorf("subscriber %q: exit %d, stderr:\n%s\nwant exit 2 and %q", tt.args, r.Code, r.Stderr, tt.want)
		}
	}
}

// runInProcess runs the tool's run function in this process, as the binary
// would with args, and returns how it ended: usage and messages are tested
// this way, the subprocess tests keep signals and crashes.
func runInProcess(args ...string) clitest.Result {
	var stdout, stderr strings.Builder
	err := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	return clitest.Result{Code: cli.ExitCode(err), Stdout: stdout.String(), Stderr: stderr.String()}
}
