package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/seqshm/seqshm/bridge/natskv"
	"github.com/seqshm/seqshm/internal/cli"
)

// health is the body of /healthz and the content of the status line.
type health struct {
	Connected bool   `json:"connected"`
	Server    string `json:"server,omitempty"`
	Exporting int64  `json:"exporting"`
	Importing int64  `json:"importing"`
	Writes    uint64 `json:"writes"`
	Imported  uint64 `json:"imported"`
	Failures  uint64 `json:"failures"`
}

func (p *plan) health(nc *nats.Conn) health {
	h := health{
		Connected: nc.IsConnected(),
		Exporting: p.stats.Exporting.Load(),
		Importing: p.stats.Importing.Load(),
		Writes:    p.stats.Writes.Load(),
		Imported:  p.stats.Imported.Load(),
		Failures:  p.stats.Failures.Load(),
	}
	if h.Connected {
		h.Server = natskv.RedactURL(nc.ConnectedUrl())
	}
	return h
}

// daemon starts what a long-running bridge offers its operator: a status
// line every -status, and with -health ADDR an HTTP endpoint, GET
// /healthz, answering 200 while the connection is up and 503 while it is
// not, with the counters as JSON. stop ends both.
func (p *plan) daemon(ctx context.Context, nc *nats.Conn) (stop func(), err error) {
	done := make(chan struct{})
	var srv *http.Server
	if p.c.health != "" {
		ln, err := net.Listen("tcp", p.c.health)
		if err != nil {
			return nil, &cli.Error{Name: p.c.name, Msg: "-health: " + err.Error(),
				Hints: []string{"give a free ADDR, such as 127.0.0.1:8222"}, Err: err}
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
			h := p.health(nc)
			w.Header().Set("Content-Type", "application/json")
			if !h.Connected {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			json.NewEncoder(w).Encode(h)
		})
		srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				p.c.verbose("-health: %v", err)
			}
		}()
		p.c.verbose("serving health on http://%s/healthz", ln.Addr())
	}
	go func() {
		if p.c.status == 0 {
			return
		}
		t := time.NewTicker(p.c.status)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-t.C:
				h := p.health(nc)
				state := "disconnected"
				if h.Connected {
					state = "connected to " + h.Server
				}
				p.c.verbose("status: %s; exporting %d segments, importing %d keys; %d writes, %d values imported, %d failures",
					state, h.Exporting, h.Importing, h.Writes, h.Imported, h.Failures)
			}
		}
	}()
	return func() {
		close(done)
		if srv != nil {
			srv.Close()
		}
	}, nil
}
