package exporter

import (
	"errors"
	"io/fs"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/seqshm/seqshm/schema"
	"github.com/seqshm/seqshm/seqlock"
	"github.com/seqshm/seqshm/shmfile"
)

// A segment is what the Collector keeps of one matching segment between
// scrapes: the open Subscriber, the value buffer, the label sets.
type segment struct {
	name string
	gen  uint64 // the last scrape that listed it

	sub  *seqlock.Subscriber // nil until opened, and after a failure
	sch  *schema.Schema      // sub's schema, for which fields holds labels
	buf  []byte              // the value buffer, reused
	skip *shmfile.Info       // a file that is no segment of ours, as listed when found out

	readErrors float64
	failing    string // the error of the last scrape, "" if it went well

	lSegment []*dto.LabelPair    // segment="NAME"
	lState   [4][]*dto.LabelPair // segment="NAME", state="..."
	fields   fieldLabels
}

func newSegment(name string) *segment {
	s := &segment{name: name}
	seg := labelPair(&lnSegment, name)
	s.lSegment = []*dto.LabelPair{seg}
	for i, st := range writerStates {
		s.lState[i] = []*dto.LabelPair{seg, labelPair(&lnState, st)}
	}
	s.fields.seg = seg
	return s
}

// collect reads the segment once and sends its metrics to out. It returns
// false if the file is no segment to export (not a seqshm segment,
// unreadable by this user, not of Options.Owner), which it then skips
// without opening it again until the file changes.
func (s *segment) collect(o *Options, info shmfile.Info, out *samples) bool {
	if s.skip != nil {
		if s.skip.Size == info.Size && s.skip.ModTime.Equal(info.ModTime) && s.skip.UID == info.UID && s.skip.Mode == info.Mode {
			return false
		}
		s.skip = nil
	}
	if s.sub != nil {
		if replaced, err := s.sub.Replaced(); err != nil || replaced {
			s.close()
		}
	}
	if s.sub == nil {
		sub, err := seqlock.Open(s.name, &seqlock.OpenOptions{Owner: o.Owner, MaxValue: o.MaxValue})
		if notOurs(err) {
			skip := info
			s.skip = &skip
			return false
		}
		if err != nil {
			s.report(o, err, out)
			return true
		}
		s.sub = sub
		if sch := sub.Schema(); !sch.Equal(s.sch) {
			s.sch = sch
			s.fields.reset(sch)
		}
	}

	// A bytes value is not decoded: Stat's facts are all it gives.
	decode := s.sch.Kind() != schema.Bytes
	var (
		value []byte
		m     seqlock.Meta
		err   error
	)
	if decode {
		if value, m, err = s.sub.ReadValue(s.buf[:0]); err == nil {
			s.buf = value[:0]
		}
	}
	switch {
	case errors.Is(err, seqlock.ErrNoValue):
		err = nil
	case errors.Is(err, seqlock.ErrLimit), errors.Is(err, seqlock.ErrLapped):
		// The facts are there (from Stat, below); the value is too large
		// to decode, or was overtaken by the writer on every one of
		// ReadValue's attempts: the next scrape reads a newer one.
	case err != nil:
		s.close() // reopen at the next scrape: truncated, corrupt, ...
		s.report(o, err, out)
		return true
	}
	st, serr := s.sub.Stat()
	if serr != nil {
		s.close()
		s.report(o, serr, out)
		return true
	}
	seq, length, published := m.Seq, m.Len, m.Time()
	if !decode || err != nil {
		seq, length, published = st.Seq, st.Len, st.Published
	}

	now := time.Now()
	if err == nil && seq != 0 && decode {
		err = s.fields.decode(s.sch, o, value, out)
	}
	s.report(o, err, out)
	out.send(descWrites, s.lSegment, float64(seq), true)
	if seq != 0 { // a value was published
		out.send(descValueBytes, s.lSegment, float64(length), false)
		if !published.IsZero() {
			out.send(descTimestamp, s.lSegment, float64(published.UnixNano())/1e9, false)
			out.send(descAge, s.lSegment, now.Sub(published).Seconds(), false)
		}
	}
	out.send(descCapacity, s.lSegment, float64(st.Capacity), false)
	for i := range s.lState {
		v := 0.0
		if int(st.Writer) == i {
			v = 1
		}
		out.send(descWriterState, s.lState[i], v, false)
	}
	return true
}

// notOurs reports whether err from Open means the file is not a segment
// this exporter should show: as seqlock.List, it skips other programs'
// files and other users' private segments, and also segments not of
// Options.Owner.
func notOurs(err error) bool {
	return errors.Is(err, seqlock.ErrNotSeqshm) || errors.Is(err, shmfile.ErrTooSmall) ||
		errors.Is(err, shmfile.ErrNotSegment) || errors.Is(err, fs.ErrNotExist) ||
		errors.Is(err, fs.ErrPermission) || errors.Is(err, seqlock.ErrNotTrusted)
}

// report sends seqshm_up and seqshm_read_errors_total for the outcome err
// of this scrape, and logs a change.
func (s *segment) report(o *Options, err error, out *samples) {
	up := 1.0
	if err != nil {
		up = 0
		s.readErrors++
		if msg := err.Error(); msg != s.failing {
			s.failing = msg
			if o.Log != nil {
				o.Log(s.name, err)
			}
		}
	} else if s.failing != "" {
		s.failing = ""
		if o.Log != nil {
			o.Log(s.name, nil)
		}
	}
	out.send(descUp, s.lSegment, up, false)
	out.send(descReadErrors, s.lSegment, s.readErrors, true)
}

// close closes the Subscriber, if open: the next scrape opens the segment
// again.
func (s *segment) close() {
	if s.sub != nil {
		s.sub.Close()
		s.sub = nil
	}
}
