package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/seqshm/seqshm/bridge/natskv"
	"github.com/seqshm/seqshm/internal/cli"
	"github.com/seqshm/seqshm/seqlock"
)

// explain turns an error of the bridge into a *cli.Error with hints: the
// bridge's own failures here, from the fields of natskv's errors, the
// segment's through cli.Explain. eo is the export options.
func explain(c *common, err error, eo *natskv.ExportOptions) error {
	if err == nil {
		return nil
	}
	fail := func(msg string, hints ...string) error {
		return &cli.Error{Name: c.name, Msg: msg, Hints: hints, Err: err}
	}
	detail := describe(err)
	var owned *natskv.OwnedError
	switch {
	case errors.As(err, &owned):
		msg := fmt.Sprintf("another exporter owns key %s", owned.Key)
		if owned.Owner != 0 {
			msg += fmt.Sprintf(" (owner %016x, last write %v ago)", owned.Owner, cli.RoundDuration(owned.Age))
		}
		stale := natskv.DefaultStale
		if eo != nil && eo.Stale > 0 {
			stale = eo.Stale
		}
		return fail(msg,
			"a key has one exporter; export this segment under another -key, or stop the other exporter",
			fmt.Sprintf("if the other exporter died, its key is free after %v without writes (-stale); run again then, or with -takeover", stale))
	case errors.Is(err, natskv.ErrNoJetStream), errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return fail(detail, "the bridge needs JetStream: start nats-server with -js (or jetstream {} in its config), or enable JetStream for the account")
	case errors.Is(err, natskv.ErrPermission):
		return fail(detail,
			"the user needs to publish to $JS.API.> and $KV.BUCKET.>, and to subscribe to _INBOX.>;",
			"ask the server's operator, or give other -creds / -user")
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired):
		return fail(detail, "check -creds, or -user and -password (NATS_USER, NATS_PASSWORD)")
	case errors.Is(err, nats.ErrNoServers):
		return fail(detail, "is nats-server running, with JetStream (nats-server -js)? give its URL with -server or NATS_URL")
	case errors.Is(err, natskv.ErrTooLarge):
		return fail(detail, "give the local segment a larger -capacity (remove it first: publisher -rm NAME)")
	case errors.Is(err, seqlock.ErrBusy):
		return fail("segment has a live publisher: "+detail,
			"an imported segment is published by the bridge alone; import into another NAME, or stop that publisher")
	case errors.Is(err, seqlock.ErrIncompatible):
		return fail(detail,
			"the existing segment has another capacity; give that -capacity, or remove the segment first")
	}
	var ne *natskv.Error
	if errors.As(err, &ne) {
		return fail(detail)
	}
	return cli.Explain(c.name, err)
}

// describe says what went wrong, from the fields of natskv's *Error (its
// operation, bucket and key), then the cause: the library's own errors
// through cli.Cause, NATS's without their "nats: " prefix, so that no line
// carries two package prefixes.
func describe(err error) string {
	var ne *natskv.Error
	if !errors.As(err, &ne) {
		return strings.TrimPrefix(cli.Cause(err), "nats: ")
	}
	s := ne.Op
	if ne.Bucket != "" {
		s += " bucket " + ne.Bucket
	}
	if ne.Key != "" {
		s += " key " + ne.Key
	}
	return s + ": " + describe(ne.Err)
}
