package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os/user"
	"runtime"
	"strconv"
	"syscall"

	"github.com/seqshm/seqshm/schema"
	"github.com/seqshm/seqshm/seqlock"
	"github.com/seqshm/seqshm/shmfile"
)

// Explain turns an error from seqlock or shmfile about the segment name into
// an *Error (or, for an invalid name, a *UsageError) with a short message and
// hints, from the errors' types and fields (never their text). It covers the
// failures the tools share; a tool explains its own (a missing segment, a
// busy one) before calling Explain. An error that is already an *Error or a
// *UsageError is returned as it is.
func Explain(name string, err error) error {
	var (
		e     *Error
		usage *UsageError
		busy  *shmfile.BusyError
		trust *shmfile.TrustError
	)
	if err == nil || errors.As(err, &e) || errors.As(err, &usage) {
		return err
	}
	explained := func(msg string, hints ...string) error {
		return &Error{Name: name, Msg: msg, Hints: hints, Err: err}
	}
	switch {
	case errors.Is(err, shmfile.ErrInvalidName):
		return &UsageError{Msg: Cause(err),
			Hints: []string{"a NAME is 1 to 200 characters of A-Z a-z 0-9 . _ -, not starting with '.'"}}
	case errors.As(err, &busy):
		return explained(Running(busy, "another publisher"), StopHint(busy))
	case errors.As(err, &trust):
		return explainTrust(name, trust, err)
	case errors.Is(err, seqlock.ErrRemoved):
		return explained("segment was removed while in use (by another program, a cleanup job, or systemd's RemoveIPC?)",
			"nobody can see values published into a removed segment; start the publisher again to create it anew")
	case errors.Is(err, seqlock.ErrLapped):
		return explained(Cause(err), "the publisher writes so fast that every attempt of the read was overtaken; try again, or read with -follow, which takes the next value")
	case errors.Is(err, seqlock.ErrLimit):
		return explained(Cause(err), "raise the limit with -max-size, such as -max-size 1GiB, if you trust this segment")
	case errors.Is(err, shmfile.ErrNoSpace):
		return explained(Cause(err),
			"a container's /dev/shm is small (64MiB under Docker): raise it with docker run --shm-size=256m,",
			"or set SEQSHM_DIR to a directory on a larger tmpfs; remove unused segments with publisher -rm NAME")
	case errors.Is(err, fs.ErrPermission):
		return explainPermission(name, err)
	case errors.Is(err, seqlock.ErrTruncated):
		return explained("segment truncated while mapped (another program shrank its file)")
	case errors.Is(err, seqlock.ErrNotSeqshm), errors.Is(err, shmfile.ErrTooSmall):
		return explained("not a seqshm segment (another program's shared memory?)")
	case errors.Is(err, shmfile.ErrNotSegment):
		return explained("not a segment (a link, directory or device is at its path)")
	case errors.Is(err, seqlock.ErrVersion):
		return explained(Cause(err),
			"a segment of an older seqshm: stop its publisher, remove it with: publisher -rm "+name+", and start the publisher again;",
			"of a newer seqshm: use tools of that version")
	case errors.Is(err, seqlock.ErrCorrupt):
		return explained(Cause(err), "remove it with: publisher -rm "+name)
	case errors.Is(err, seqlock.ErrNotReady):
		return explained("segment not initialised yet",
			"its publisher is starting, or died while creating it; wait with -wait 5s, or remove it with: publisher -rm "+name)
	case errors.Is(err, errors.ErrUnsupported):
		return explained(fmt.Sprintf("not supported on %s: %s", runtime.GOOS, Cause(err)))
	}
	return explained(Cause(err))
}

// Cause is err's message without the package and operation that the
// library's error types (seqlock.Error, shmfile.Error, schema.Error) put
// before it: what went wrong, for a person.
func Cause(err error) string {
	var (
		se *seqlock.Error
		fe *shmfile.Error
	)
	for {
		switch {
		case errors.As(err, &se):
			err = se.Err
		case errors.As(err, &fe):
			err = fe.Err
		default:
			if sc, ok := err.(*schema.Error); ok {
				return sc.Err.Error()
			}
			return err.Error()
		}
	}
}

// Running says that who, the holder of a busy segment, is running, with its
// pid where it means something: "another publisher (pid 7) is running".
func Running(b *shmfile.BusyError, who string) string {
	switch {
	case b.PID == 0:
		return who + " is running"
	case b.ForeignPID:
		return fmt.Sprintf("%s (pid %d in another PID namespace, such as a container) is running", who, b.PID)
	}
	return fmt.Sprintf("%s (pid %d) is running", who, b.PID)
}

// KillCommand is the command that stops the holder of a busy segment on
// this OS, or "" where its pid means nothing here (unknown, or in another
// PID namespace).
func KillCommand(b *shmfile.BusyError) string {
	switch {
	case b.PID == 0 || b.ForeignPID:
		return ""
	case runtime.GOOS == "windows":
		return fmt.Sprintf("taskkill /F /PID %d", b.PID)
	}
	return fmt.Sprintf("kill %d", b.PID)
}

// StopHint is the hint for stopping the holder of a busy segment.
func StopHint(b *shmfile.BusyError) string {
	if kill := KillCommand(b); kill != "" {
		return "stop it first (" + kill + "), or publish under another name"
	}
	return "stop it first, or publish under another name"
}

// UserName names the user uid for messages: "alice (uid 1000)", or
// "uid 1000" if unknown.
func UserName(uid int) string {
	if name := OwnerName(uid); name != strconv.Itoa(uid) {
		return fmt.Sprintf("%s (uid %d)", name, uid)
	}
	return fmt.Sprintf("uid %d", uid)
}

// OwnerName is the name of user uid, or the uid as a number if unknown:
// what -info and -list show as the owner.
func OwnerName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}

func explainTrust(name string, t *shmfile.TrustError, err error) error {
	e := &Error{Name: name, Err: err}
	mode := fmt.Sprintf("%04o", uint32(t.Mode.Perm()))
	switch {
	case t.Dir:
		if t.Mode&fs.ModeSticky != 0 {
			mode = "1" + mode[1:]
		}
		why := "belongs to another user, who could replace its segments"
		if t.Mode.Perm()&0o022 != 0 && t.Mode&fs.ModeSticky == 0 {
			why = "may be written by others and is not sticky: they could replace its segments"
		}
		e.Msg = fmt.Sprintf("segment directory %s (owner %s, mode %s) %s", t.Path, UserName(t.UID), mode, why)
		e.Hints = []string{
			"make it writable by its owner only (chmod go-w DIR) or sticky (chmod +t DIR), and owned by you or root,",
			"or point SEQSHM_DIR at a directory of your own",
		}
	case t.Want == 0: // a subscriber's -owner
		e.Msg = fmt.Sprintf("segment belongs to %s (mode %s), not to the owner asked for", UserName(t.UID), mode)
		e.Hints = []string{"another user may have made it to feed you values; check who publishes it (subscriber -info " + name + ")"}
	case !isOwner(t.UID):
		e.Msg = fmt.Sprintf("segment belongs to %s (mode %s): a publisher adopts only its own segments", UserName(t.UID), mode)
		e.Hints = []string{
			"its owner could read or change what you publish; do not publish into it:",
			"remove it (as its owner, or root: publisher -rm " + name + ") or use another name",
		}
	default:
		e.Msg = fmt.Sprintf("segment has mode %s, which grants more than %04o", mode, uint32(t.Want))
		e.Hints = []string{
			fmt.Sprintf("give -mode %s to publish into it as it is, or remove it first (publisher -rm %s) to create it with the mode you want", mode, name),
		}
	}
	return e
}

// explainPermission names the real cause of an access failure: a segment
// directory this user may not write, another user's segment, or a segment
// whose mode is too narrow.
func explainPermission(name string, err error) error {
	var se *shmfile.Error
	e := &Error{Name: name, Err: err, Msg: "permission denied"}
	if errors.As(err, &se) && se.Op == "create" {
		e.Msg = "permission denied: cannot create segments in " + Dir()
		e.Hints = []string{"the directory is not writable by you; set SEQSHM_DIR to a directory you may write"}
		return e
	}
	if info, serr := shmfile.Stat(name); serr == nil && info.UID >= 0 {
		e.Msg = fmt.Sprintf("permission denied: segment belongs to %s, mode %04o", UserName(info.UID), uint32(info.Mode))
		if isOwner(info.UID) {
			e.Hints = []string{"its mode does not let you write it; remove it (publisher -rm " + name + ") and publish again"}
			return e
		}
	}
	e.Hints = []string{
		"segments are created owner-only (mode 0600); to let other users subscribe,",
		"the publisher creates it with -mode 0640 or -mode 0644 (publisher -rm NAME first to recreate it)",
	}
	return e
}

// isOwner reports whether uid is this process's effective user.
func isOwner(uid int) bool { return uid == syscall.Geteuid() }

// Dir describes where segments live, for messages.
func Dir() string {
	if d := shmfile.Dir(); d != "" {
		return d
	}
	return "the session namespace"
}
