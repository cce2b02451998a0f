package seqlock

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/seqshm/seqshm/schema"
	"github.com/seqshm/seqshm/shmfile"
)

// WriterState is what a subscriber can tell about a segment's publisher.
type WriterState int

const (
	// WriterNone: no publisher has opened the segment yet.
	WriterNone WriterState = iota
	// WriterAlive: a publisher holds the segment now.
	WriterAlive
	// WriterClosed: the last publisher closed it cleanly.
	WriterClosed
	// WriterDied: the last publisher's process ended without closing it
	// (killed, crashed). The last complete value is intact.
	WriterDied
)

func (w WriterState) String() string {
	switch w {
	case WriterNone:
		return "none"
	case WriterAlive:
		return "alive"
	case WriterClosed:
		return "closed"
	case WriterDied:
		return "died"
	}
	return fmt.Sprintf("WriterState(%d)", int(w))
}

// Status describes a segment at one instant.
type Status struct {
	Name          string
	Capacity      int            // largest value, bytes
	Fingerprint   uint64         // type fingerprint, 0 for raw bytes
	Seq           uint64         // write number of the newest value, 0 if none
	Len           int            // length of the newest value
	Published     time.Time      // publish time of the newest value; zero if none or unstamped
	Created       time.Time      // creation time of the segment
	Writer        WriterState    // the publisher's state
	PID           int            // the (last) publisher's process id, in its PID namespace; 0 if none
	ForeignPID    bool           // PID is in another PID namespace than this process's (a container's)
	WriterStarted time.Time      // when that publisher opened the segment
	Mode          fs.FileMode    // permission bits of the segment file
	Size          int64          // bytes of the segment file
	UID           int            // owner of the segment file; -1 where unknown (Windows)
	Schema        *schema.Schema // what the values are; nil for bytes
}

// Kind returns the kind of the segment's values.
func (st Status) Kind() schema.Kind {
	if st.Schema == nil {
		return schema.Bytes
	}
	return st.Schema.Kind()
}

// Stat returns the Status of the named segment.
func Stat(name string) (Status, error) {
	s, err := Open(name, nil)
	if err != nil {
		return Status{Name: name, UID: -1}, err
	}
	defer s.Close()
	return s.Stat()
}

// Stat reports the segment's facts: the writer's state, the newest value's
// write number and publish time, the capacity and the file's owner, mode
// and size.
func (s *Subscriber) Stat() (Status, error) {
	st := Status{Name: s.Name(), UID: -1}
	if s.closed {
		return st, ErrClosed
	}
	st.Capacity, st.Fingerprint, st.Schema = s.r.Capacity(), s.r.Fingerprint(), s.r.Schema()
	if info, err := s.seg.Stat(); err == nil {
		st.Mode, st.Size, st.UID = info.Mode, info.Size, info.UID
	}
	_, err := faultSafe(func() (struct{}, error) {
		wi := s.r.writer()
		st.Created = unixTime(wi.created)
		st.WriterStarted = unixTime(wi.started)
		st.PID = wi.pid
		st.ForeignPID = foreignPID(wi.pidNS)
		m, err := s.r.Read(nil)
		switch {
		case err == nil, errors.Is(err, ErrShortBuffer):
			st.Seq, st.Len, st.Published = m.Seq, m.Len, m.Time()
		case errors.Is(err, ErrNoValue):
		default:
			return struct{}{}, err
		}
		alive, pid, err := s.seg.WriterAlive()
		if err != nil {
			return struct{}{}, err
		}
		switch {
		case alive:
			st.Writer = WriterAlive
			if pid != 0 {
				st.PID = pid
			}
		case wi.state == stateClosed:
			st.Writer = WriterClosed
		case wi.state == stateInit && st.Seq == 0 && st.PID == 0:
			st.Writer = WriterNone
		default:
			st.Writer = WriterDied
		}
		return struct{}{}, nil
	})
	return st, opError("stat", s.Name(), err)
}

func unixTime(ns uint64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(ns))
}

// A ListEntry is one segment found by List.
type ListEntry struct {
	Status
	Err error // why the segment could not be read, if it could not
}

// List returns the Status of every segment in the segment directory,
// sorted by name. Files that are not seqshm segments (other programs' use
// of /dev/shm) are skipped, and so are files this user may not read
// (other users' private segments and other programs' files); segments that
// can be opened but not read are listed with their error in Err.
func List() ([]ListEntry, error) {
	infos, err := shmfile.List()
	if err != nil {
		return nil, err
	}
	var out []ListEntry
	for _, info := range infos {
		st, err := Stat(info.Name)
		if errors.Is(err, ErrNotSeqshm) || errors.Is(err, shmfile.ErrTooSmall) ||
			errors.Is(err, shmfile.ErrNotSegment) || errors.Is(err, fs.ErrNotExist) ||
			errors.Is(err, fs.ErrPermission) {
			continue
		}
		if err != nil {
			st.Mode, st.Size, st.UID = info.Mode, info.Size, info.UID
		}
		out = append(out, ListEntry{Status: st, Err: err})
	}
	return out, nil
}
