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
// bridge's own failures here, the segment's through cli.Explain. eo is the
// export options, nil for import.
func explain(c *common, err error, eo *natskv.ExportOptions) error {
	if err == nil {
		return nil
	}
	fail := func(msg string, hints ...string) error {
		return &cli.Error{Name: c.name, Msg: msg, Hints: hints, Err: err}
	}
	detail := strings.TrimPrefix(cli.Cause(err), "natskv: ")
	var owned *natskv.OwnedError
	switch {
	case errors.As(err, &owned):
		msg := fmt.Sprintf("another exporter owns key %s", owned.Key)
		if owned.Owner != 0 {
			msg += fmt.Sprintf(" (owner %016x, last write %v ago)", owned.Owner, owned.Age)
		}
		stale := natskv.DefaultStale
		if eo != nil {
			stale = eo.Stale
		}
		return fail(msg,
			"a key has one exporter; export this segment under another -key, or stop the other exporter",
			fmt.Sprintf("if the other exporter died, its key is free after %v without writes (-stale); run again then, or with -takeover", stale))
	case errors.Is(err, nats.ErrNoServers), errors.Is(err, nats.ErrTimeout) && strings.Contains(detail, "connect to"):
		return fail(detail,
			"is nats-server running, with JetStream (nats-server -js)? give its URL with -server or NATS_URL")
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired), strings.Contains(strings.ToLower(detail), "authorization violation"):
		return fail(detail,
			"check -creds, or -user and -password (NATS_USER, NATS_PASSWORD)")
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return fail(detail, "the bridge needs JetStream: start nats-server with -js, or enable JetStream for the account")
	case errors.Is(err, natskv.ErrTooLarge):
		return fail(detail, "give the local segment a larger -capacity (remove it first: publisher -rm NAME)")
	case errors.Is(err, seqlock.ErrBusy):
		return fail("segment has a live publisher: "+detail,
			"an imported segment is published by the bridge alone; import into another NAME, or stop that publisher")
	case errors.Is(err, seqlock.ErrIncompatible):
		return fail(detail,
			"the existing segment has another capacity; give that -capacity, or remove the segment first")
	}
	return cli.Explain(c.name, err)
}
