package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/seqshm/seqshm/internal/cli"
	"github.com/seqshm/seqshm/schema"
	"github.com/seqshm/seqshm/seqlock"
)

// statusJSON is a segment's Status as -info -json and -list -json print it.
type statusJSON struct {
	Name          string    `json:"name"`
	Capacity      int       `json:"capacity"`
	Seq           uint64    `json:"seq"`           // writes so far
	Len           int       `json:"len"`           // length of the latest value
	Time          time.Time `json:"time,omitzero"` // its publish time
	AgeSeconds    float64   `json:"age_seconds,omitzero"`
	Future        bool      `json:"future,omitzero"` // the publish time is ahead of this clock (skew)
	Writer        string    `json:"writer"`          // alive, closed, died or none
	PID           int       `json:"pid,omitzero"`
	ForeignPID    bool      `json:"pid_foreign,omitzero"` // pid is in another PID namespace
	Owner         string    `json:"owner,omitempty"`      // user name, or the uid as a number
	UID           *int      `json:"uid,omitempty"`
	WriterStarted time.Time `json:"writer_started,omitzero"`
	Mode          string    `json:"mode"` // octal, "0600"
	Size          int64     `json:"size"`
	Created       time.Time `json:"created,omitzero"`
	Fingerprint   string    `json:"fingerprint,omitempty"` // of a typed segment
	Kind          string    `json:"kind,omitempty"`        // bytes, text, json or struct
	Schema        string    `json:"schema,omitempty"`      // of a struct segment, in the text form
	Error         string    `json:"error,omitempty"`       // -list: why it could not be read
}

func toJSON(st seqlock.Status, now time.Time, err error) statusJSON {
	j := statusJSON{
		Name: st.Name, Capacity: st.Capacity, Seq: st.Seq, Len: st.Len,
		Time: st.Published, Writer: st.Writer.String(), PID: st.PID,
		WriterStarted: st.WriterStarted, Mode: fmt.Sprintf("%04o", uint32(st.Mode.Perm())),
		Size: st.Size, Created: st.Created, ForeignPID: st.ForeignPID,
	}
	if st.UID >= 0 {
		uid := st.UID
		j.UID, j.Owner = &uid, cli.OwnerName(uid)
	}
	switch {
	case st.Published.IsZero():
	case inFuture(now, st.Published):
		j.Future = true
	default:
		j.AgeSeconds = max(0, now.Sub(st.Published).Seconds())
	}
	if st.Fingerprint != 0 {
		j.Fingerprint = fmt.Sprintf("%#x", st.Fingerprint)
	}
	switch {
	case err != nil:
		j.Error = explainedMsg(st.Name, err)
		j.Writer = ""
	case st.Kind() == schema.Struct:
		j.Kind, j.Schema = st.Kind().String(), st.Schema.String()
	default:
		j.Kind = st.Kind().String()
	}
	return j
}

// info prints the segment's facts.
func info(ctx context.Context, cfg *config, out *bufio.Writer) error {
	s, err := openWithin(ctx, cfg)
	if err != nil {
		return interrupted(ctx, cfg, err)
	}
	defer s.Close()
	st, err := s.Stat()
	if err != nil {
		return explain(cfg, err)
	}
	now := time.Now()
	if cfg.json {
		return json.NewEncoder(out).Encode(toJSON(st, now, nil))
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("name", st.Name)
	row("capacity", fmt.Sprintf("%d bytes", st.Capacity))
	switch {
	case st.Kind() == schema.Struct:
		row("values", fmt.Sprintf("struct of %d bytes, fingerprint %#x", st.Schema.Size(), st.Fingerprint))
		row("schema", st.Schema.String())
	case st.Fingerprint != 0:
		row("values", fmt.Sprintf("typed, fingerprint %#x (no schema)", st.Fingerprint))
	default:
		row("values", st.Kind().String())
	}
	row("writes", strconv.FormatUint(st.Seq, 10))
	switch {
	case st.Seq == 0:
		row("length", "- (no value yet)")
		row("published", "-")
	case st.Published.IsZero():
		row("length", fmt.Sprintf("%d bytes", st.Len))
		row("published", "unknown (unstamped)")
	default:
		row("length", fmt.Sprintf("%d bytes", st.Len))
		row("published", st.Published.Format(cli.TimeLayout)+" ("+ageText(now, st.Published)+")")
	}
	row("writer", writerText(st))
	if st.UID >= 0 {
		row("owner", cli.UserName(st.UID))
	}
	row("mode", fmt.Sprintf("%04o (%v)", uint32(st.Mode.Perm()), st.Mode.Perm()))
	row("size", fmt.Sprintf("%d bytes", st.Size))
	row("created", timeText(st.Created))
	return tw.Flush()
}

func writerText(st seqlock.Status) string {
	pid := fmt.Sprintf("pid %d", st.PID)
	if st.ForeignPID {
		pid += " in another PID namespace"
	}
	switch {
	case st.PID == 0:
		return st.Writer.String()
	case st.Writer == seqlock.WriterAlive:
		return fmt.Sprintf("alive (%s, since %s)", pid, timeText(st.WriterStarted))
	}
	return fmt.Sprintf("%v (last %s)", st.Writer, pid)
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(cli.TimeLayout)
}

// inFuture reports whether a publish time t is ahead of this clock by more
// than the slack two processes' clocks may differ by (a second).
func inFuture(now, t time.Time) bool { return t.After(now.Add(time.Second)) }

// ageText says how long ago t was, or that it is in the future or absurdly
// far in the past (a clock set wrong on one side), never a negative age.
func ageText(now, t time.Time) string {
	switch {
	case inFuture(now, t):
		return fmt.Sprintf("%v in the future: clock skew?", cli.RoundDuration(t.Sub(now)))
	case t.Before(saneSince):
		return fmt.Sprintf("%v ago, before %d: clock not set?", age(now, t), saneSince.Year())
	}
	return fmt.Sprintf("%v ago", age(now, t))
}

// saneSince is when no real publish time can be older than.
var saneSince = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// age is how long ago t was, rounded for display.
func age(now, t time.Time) time.Duration {
	return cli.RoundDuration(now.Sub(t))
}

// list prints the facts of every segment, one a line, in columns.
func list(cfg *config, out *bufio.Writer) error {
	entries, err := seqlock.List()
	if err != nil {
		return cli.Explain("", err)
	}
	now := time.Now()
	if cfg.json {
		enc := json.NewEncoder(out)
		for _, e := range entries {
			if err := enc.Encode(toJSON(e.Status, now, e.Err)); err != nil {
				return writeError(err)
			}
		}
		return nil
	}
	if len(entries) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tCAPACITY\tWRITES\tLEN\tAGE\tWRITER\tPID\tOWNER\tMODE\tSIZE\tCREATED")
	for _, e := range entries {
		st := e.Status
		mode := fmt.Sprintf("%04o", uint32(st.Mode.Perm()))
		owner := "-"
		if st.UID >= 0 {
			owner = cli.OwnerName(st.UID)
		}
		if e.Err != nil {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t?\t-\t%s\t%s\t%d\t-\t%s\n", st.Name, owner, mode, st.Size, explainedMsg(st.Name, e.Err))
			continue
		}
		length, ago, pid := "-", "-", "-"
		if st.Seq != 0 {
			length = strconv.Itoa(st.Len)
		}
		switch {
		case st.Published.IsZero():
		case inFuture(now, st.Published):
			ago = "future"
		default:
			ago = age(now, st.Published).String()
		}
		if st.PID != 0 {
			pid = strconv.Itoa(st.PID)
			if st.ForeignPID {
				pid += "*" // in another PID namespace
			}
		}
		fmt.Fprintf(tw, "%s\t%v\t%d\t%d\t%s\t%s\t%v\t%s\t%s\t%s\t%d\t%s\n",
			st.Name, st.Kind(), st.Capacity, st.Seq, length, ago, st.Writer, pid, owner, mode, st.Size, timeText(st.Created))
	}
	return tw.Flush()
}

// explainedMsg is the explanation of err without the segment's name.
func explainedMsg(name string, err error) string {
	var e *cli.Error
	if errors.As(cli.Explain(name, err), &e) {
		return e.Msg
	}
	return err.Error()
}
