package shmfile

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/seqshm/seqshm/internal/testproc"
)

// segName returns a segment name unique to the test and this process.
func segName(t *testing.T) string { return testproc.Name(t) }

var invalidNames = []struct {
	name string
	why  string
}{
	{"", "empty"},
	{"../x", "starts with '.'"},
	{"a/b", `'/'`},
	{"a\\b", `'\\'`},
	{strings.Repeat("a", 201), "longer than 200"},
	{".hidden", "starts with '.'"},
	{".", "starts with '.'"},
	{"..", "starts with '.'"},
	{"a\x00b", `'\x00'`},
	{"caf\u00e9", "not in [A-Za-z0-9._-]"},
	{"a b", "' '"},
	{"a:b", "':'"},
}

func TestValidName(t *testing.T) {
	for _, name := range []string{"a", "imu", "IMU.v2", "a-b_c.d", "0", strings.Repeat("z", 200), "x.."} {
		if err := CheckName(name); err != nil {
			t.Errorf("CheckName(%q) = %v, want nil", name, err)
		}
	}
	for _, tc := range invalidNames {
		t.Run(strconv.Quote(tc.name), func(t *testing.T) {
			err := CheckName(tc.name)
			if !errors.Is(err, ErrInvalidName) {
				t.Fatalf("CheckName(%q) = %v, want ErrInvalidName", tc.name, err)
			}
			msg := err.Error()
			if want := "shmfile: invalid segment name " + strconv.Quote(tc.name); !strings.HasPrefix(msg, want) {
				t.Errorf("CheckName(%q) = %q, want prefix %q", tc.name, msg, want)
			}
			if !strings.Contains(msg, tc.why) {
				t.Errorf("CheckName(%q) = %q, want it to say %q", tc.name, msg, tc.why)
			}
		})
	}
}

// TestInvalidNameEverywhere checks that every entry point taking a name
// refuses invalid ones before touching the system.
func TestInvalidNameEverywhere(t *testing.T) {
	isolateDir(t)
	ops := map[string]func(string) error{
		"Create":     func(n string) error { _, err := Create(n, 4096, nil); return err },
		"OpenWriter": func(n string) error { _, err := OpenWriter(n, 0, nil); return err },
		"OpenReader": func(n string) error { _, err := OpenReader(n, 0); return err },
		"Remove":     Remove,
		"Stat":       func(n string) error { _, err := Stat(n); return err },
	}
	for opName, op := range ops {
		for _, tc := range invalidNames {
			if err := op(tc.name); !errors.Is(err, ErrInvalidName) {
				t.Errorf("%s(%q) = %v, want ErrInvalidName", opName, tc.name, err)
			}
		}
	}
}

func TestCreateBadArguments(t *testing.T) {
	isolateDir(t)
	name := segName(t)
	tests := []struct {
		size int
		opts *Options
		want string
	}{
		{0, nil, "size 0 is not positive"},
		{-1, nil, "size -1 is not positive"},
		{4096, &Options{Mode: 0o600 | os.ModeDir}, "is not a permission mode"},
	}
	for _, tc := range tests {
		s, err := Create(name, tc.size, tc.opts)
		if err == nil {
			s.Close()
			t.Errorf("Create(%q, %d, %+v) = nil error, want %q", name, tc.size, tc.opts, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), `shmfile: create "`+name+`"`) {
			t.Errorf("Create(%q, %d, %+v) = %q, want it to say %q", name, tc.size, tc.opts, err, tc.want)
		}
	}
}

// isolateDir points SEQSHM_DIR at a fresh directory (testproc.SegDir).
func isolateDir(t *testing.T) { testproc.SegDir(t) }
