// Package natstest runs an embedded NATS server with JetStream for the
// bridge's tests: on 127.0.0.1, a random port and a t.TempDir() store, so
// that no external service is needed. It can be stopped and started again
// on the same port and store, to test reconnects.
package natstest

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// A Server is an embedded nats-server. It is not safe for concurrent use;
// drive it from the test goroutine.
type Server struct {
	t    testing.TB
	opts server.Options
	srv  *server.Server
}

// Options tune Start; the zero value is a plain server.
type Options struct {
	User, Password string // require these credentials if set
	// NoJetStream starts the server without JetStream.
	NoJetStream bool
	// DenyJetStream (with User) forbids the user to publish to the
	// JetStream API ($JS.API.>): the server answers a permissions
	// violation.
	DenyJetStream bool
}

// Start runs a JetStream-enabled server on 127.0.0.1 and a random port,
// storing in a new temporary directory. It is shut down at the end of the
// test.
func Start(t testing.TB, o *Options) *Server {
	t.Helper()
	s := &Server{t: t, opts: server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	}}
	if o != nil {
		s.opts.Username, s.opts.Password = o.User, o.Password
		s.opts.JetStream = !o.NoJetStream
		if o.DenyJetStream {
			s.opts.Username, s.opts.Password = "", ""
			s.opts.Users = []*server.User{{
				Username: o.User, Password: o.Password,
				Permissions: &server.Permissions{Publish: &server.SubjectPermission{Deny: []string{"$JS.API.>"}}},
			}}
		}
	}
	s.start()
	// After the first start, restarts reuse the port it got.
	s.opts.Port = s.srv.Addr().(*net.TCPAddr).Port
	t.Cleanup(s.Shutdown)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	opts := s.opts // NewServer keeps a pointer; give each run its own copy
	srv, err := server.NewServer(&opts)
	if err != nil {
		s.t.Fatalf("natstest: new server: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		s.t.Fatalf("natstest: server not ready for connections")
	}
	s.srv = srv
}

// URL returns the client URL, nats://127.0.0.1:PORT (without credentials).
func (s *Server) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.opts.Port) }

// Shutdown stops the server and waits until it has stopped. It may be
// called more than once.
func (s *Server) Shutdown() {
	if s.srv == nil {
		return
	}
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
	s.srv = nil
}

// Restart starts the server again, on the same port and store directory,
// after Shutdown. Binding the port is retried for a while, since the old
// listener may take a moment to go.
func (s *Server) Restart() {
	s.t.Helper()
	s.Shutdown()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", s.opts.Port))
		if err == nil {
			ln.Close()
			break
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("natstest: port %d still busy: %v", s.opts.Port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.start()
}
