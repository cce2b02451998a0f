package natskv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ConnOptions are how the bridge connects to NATS, with the options NATS
// users expect from the nats CLI. Secrets in them never appear in messages.
type ConnOptions struct {
	// URL is one server URL or a comma-separated list; "" means
	// nats.DefaultURL (nats://127.0.0.1:4222). Userinfo in a URL
	// (nats://user:pass@host, nats://token@host) is used and redacted.
	URL string
	// Name is the connection name shown by the server (nats server
	// report connections).
	Name string
	// Creds is a credentials file (JWT and NKey seed), as made by nsc.
	Creds string
	// User and Password authenticate with a user name and password.
	User, Password string
	// TLSCA is a PEM file of CAs to verify the server with; TLSCert and
	// TLSKey are a client certificate and its key, for mutual TLS.
	TLSCA, TLSCert, TLSKey string
	// ReconnectWait is the pause between reconnect attempts to one
	// server; 0 means 1s. The bridge reconnects forever.
	ReconnectWait time.Duration
	// Logf, if not nil, receives connection events (lost, restored,
	// asynchronous errors), one line each.
	Logf func(format string, args ...any)
}

// Connect connects to NATS for a bridge: reconnecting forever once
// connected, with the client's reconnect buffer off so that nothing stale is
// queued while disconnected (the bridge resends the latest value itself on
// reconnect). A server that cannot be reached at start is tried again every
// ReconnectWait (with one log line) until ctx ends; a refusal by the server
// (credentials, TLS) is returned at once, as an *Error with Op "connect".
// On success, it checks that JetStream answers, quickly: ErrNoJetStream if
// the server or account has none, ErrPermission if the user may not use
// its API.
func Connect(ctx context.Context, o ConnOptions) (*nats.Conn, error) {
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	url := o.URL
	if url == "" {
		url = nats.DefaultURL
	}
	wait := o.ReconnectWait
	if wait <= 0 {
		wait = time.Second
	}
	shown := RedactURL(url)
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(wait),
		nats.ReconnectJitter(wait/10, wait/5),
		nats.ReconnectBufSize(-1),
		nats.Timeout(5 * time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				logf("connection to %s lost: %v; reconnecting every %v", shown, causeText(redactErr(err, o)), wait)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logf("reconnected to %s", RedactURL(nc.ConnectedUrl()))
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			logf("server: %v", causeText(redactErr(err, o)))
		}),
	}
	if o.Creds != "" {
		opts = append(opts, nats.UserCredentials(o.Creds))
	}
	if o.User != "" || o.Password != "" {
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	}
	if o.TLSCA != "" {
		opts = append(opts, nats.RootCAs(o.TLSCA))
	}
	if o.TLSCert != "" || o.TLSKey != "" {
		opts = append(opts, nats.ClientCert(o.TLSCert, o.TLSKey))
	}
	failed := false
	for {
		nc, err := nats.Connect(url, opts...)
		if err == nil {
			if failed {
				logf("connected to %s", RedactURL(nc.ConnectedUrl()))
			}
			if err := checkJetStream(ctx, nc); err != nil {
				nc.Close()
				return nil, err
			}
			return nc, nil
		}
		cause := redactErr(err, o)
		if !unreachable(cause) {
			return nil, &Error{Op: "connect to " + shown, Err: cause}
		}
		if !failed {
			logf("cannot connect to %s: %v; retrying every %v", shown, causeText(cause), wait)
			failed = true
		}
		select {
		case <-ctx.Done():
			return nil, &Error{Op: "connect to " + shown, Err: cause}
		case <-time.After(wait):
		}
	}
}

// unreachable reports whether a connect error means that no server
// answered (worth retrying), rather than that one refused us.
func unreachable(err error) bool {
	var ne net.Error
	return errors.Is(err, nats.ErrNoServers) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &ne) || errors.Is(err, io.EOF)
}

// checkJetStream asks the server for the account's JetStream information:
// no JetStream answers at once (no responders); a user without permission
// for the JetStream API gets an asynchronous permissions violation, which
// the client records as its last error, long before a timeout.
func checkJetStream(ctx context.Context, nc *nats.Conn) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return &Error{Op: "check JetStream", Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := js.AccountInfo(ctx)
		done <- err
	}()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			switch {
			case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount), errors.Is(err, nats.ErrNoResponders):
				return &Error{Op: "check JetStream", Err: ErrNoJetStream}
			case err != nil:
				return &Error{Op: "check JetStream", Err: err}
			}
			return nil
		case <-tick.C:
			if last := nc.LastError(); errors.Is(last, nats.ErrPermissionViolation) {
				return &Error{Op: "check JetStream", Err: fmt.Errorf("%w: %s", ErrPermission, causeText(last))}
			}
		}
	}
}

// causeText is err's message without NATS's "nats: " prefix, for log
// lines that already say who speaks.
func causeText(err error) string {
	return strings.TrimPrefix(err.Error(), "nats: ")
}

// RedactURL returns urls (one URL or a comma-separated list) with any
// userinfo (user:password, or a token) replaced by "xxxxx", for messages.
func RedactURL(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		u, err := url.Parse(p)
		switch {
		case err != nil && strings.Contains(p, "@"):
			// Unparsable: keep only what follows the last '@'.
			parts[i] = "xxxxx@" + p[strings.LastIndex(p, "@")+1:]
		case err != nil || u.User == nil:
			parts[i] = p
		default:
			u.User = url.User("xxxxx")
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}

// redactErr hides the password and URL userinfo should a library error
// quote them.
func redactErr(err error, o ConnOptions) error {
	msg := err.Error()
	red := msg
	var secrets []string
	if o.Password != "" {
		secrets = append(secrets, o.Password)
	}
	for _, p := range strings.Split(o.URL, ",") {
		if u, perr := url.Parse(strings.TrimSpace(p)); perr == nil && u.User != nil {
			secrets = append(secrets, u.User.String())
			if pw, ok := u.User.Password(); ok && pw != "" {
				secrets = append(secrets, pw)
			}
		}
	}
	for _, s := range secrets {
		red = strings.ReplaceAll(red, s, "xxxxx")
	}
	if red == msg {
		return err
	}
	return &redactedError{msg: red, err: err}
}

// redactedError keeps the chain for errors.Is but prints a redacted text.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
