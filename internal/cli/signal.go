package cli

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// A Signal is the cause of a context that SignalContext ended: the signal
// that arrived. As an error, it makes the exit code 128 plus the signal's
// number (130 for SIGINT, 143 for SIGTERM), as shells expect of a command
// interrupted before it finished its work.
type Signal struct {
	Sig os.Signal
}

func (s *Signal) Error() string { return "interrupted by " + s.Sig.String() }

// code is the exit code for s.
func (s *Signal) code() int {
	if n, ok := s.Sig.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 1
}

// SignalContext is signal.NotifyContext whose context, once a signal
// arrives, has a *Signal as its cause (context.Cause), so that a tool can
// tell a clean stop from an interrupted wait and say which signal it was
// (NotifyContext's own cause is only text).
func SignalContext(parent context.Context, sigs ...os.Signal) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	go func() {
		select {
		case sig := <-ch:
			cancel(&Signal{Sig: sig})
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		cancel(context.Canceled)
		signal.Stop(ch)
	}
}

// Interrupted returns the *Signal that ended ctx, or nil.
func Interrupted(ctx context.Context) *Signal {
	if s, ok := context.Cause(ctx).(*Signal); ok {
		return s
	}
	return nil
}
