//go:build unix

package cli

import (
	"context"
	"syscall"
	"testing"
)

// TestSignalContext: a signal ends the context with a *Signal as its cause
// (exit code 128 + its number); stop ends it without one, and may be called
// twice.
func TestSignalContext(t *testing.T) {
	ctx, stop := SignalContext(context.Background(), syscall.SIGUSR1)
	defer stop()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	<-ctx.Done()
	if sig := Interrupted(ctx); sig == nil || sig.Sig != syscall.SIGUSR1 || ExitCode(sig) != 128+int(syscall.SIGUSR1) {
		t.Errorf("after SIGUSR1: Interrupted = %v, want SIGUSR1 (exit %d)", sig, 128+int(syscall.SIGUSR1))
	}
	stop()

	ctx, stop = SignalContext(context.Background(), syscall.SIGUSR1)
	stop()
	stop()
	if <-ctx.Done(); Interrupted(ctx) != nil {
		t.Errorf("after stop: Interrupted = %v, want nil", Interrupted(ctx))
	}
}
