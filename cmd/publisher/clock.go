package main

import (
	"context"
	"time"

	"github.com/seqshm/seqshm/internal/cli"
)

// publishClock publishes the current time every cfg.interval until ctx
// ends or cfg.count values are out. The value and its publish stamp are
// the same instant. A ticker, not a sleep, keeps the pace: the time spent
// publishing does not add up into drift, and a late tick is dropped rather
// than bunched.
func publishClock(ctx context.Context, cfg *config) (err error) {
	p, err := create(cfg)
	if err != nil {
		return err
	}
	defer func() { err = closePublisher(p, err) }()
	if len(cli.TimeLayout)+6 > p.Capacity() { // "Z07:00" may be written out as "+hh:mm"
		return tooLong(cfg.name, "a time stamp", p.Capacity())
	}
	t := time.NewTicker(cfg.interval)
	defer t.Stop()
	buf := make([]byte, 0, 64)
	for n := 0; cfg.count == 0 || n < cfg.count; n++ {
		if n > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-p.Removed():
				return removed(cfg.name)
			case <-t.C:
			}
		}
		now := time.Now()
		buf = now.AppendFormat(buf[:0], cli.TimeLayout)
		if cfg.noTimestamp {
			_, err = p.Publish(buf)
		} else {
			_, err = p.PublishAt(buf, now)
		}
		if err != nil {
			return cli.Explain(cfg.name, err)
		}
	}
	return nil
}
