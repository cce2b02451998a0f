package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/seqshm/seqshm/exporter"
	"github.com/seqshm/seqshm/internal/cli"
	"github.com/seqshm/seqshm/shmfile"
)

// shutdownTimeout bounds the wait for scrapes in progress at a stop.
const shutdownTimeout = 5 * time.Second

// serve serves /metrics and /healthz on cfg.listen until ctx ends.
func serve(ctx context.Context, cfg *config, stderr io.Writer) error {
	log := &logger{w: stderr}
	opts := cfg.options()
	opts.Log = func(name string, err error) {
		if err == nil {
			log.Printf("%s: readable again", name)
			return
		}
		log.Printf("%v (seqshm_up is 0 until it is readable)", cli.Explain(name, err))
	}
	col, err := exporter.New(opts)
	if err != nil {
		return usageError("%v", err) // parse checked the globs: not reached
	}
	defer col.Close()
	if _, err := shmfile.List(); err != nil {
		return &cli.Error{Msg: "cannot list the segments in " + cli.Dir() + ": " + cli.Cause(err), Err: err,
			Hints: []string{"check that the directory exists and that you may read it, or set SEQSHM_DIR"}}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(col,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:            log,
		ErrorHandling:       promhttp.ContinueOnError,
		EnableOpenMetrics:   true,
		MaxRequestsInFlight: 4,
		Timeout:             30 * time.Second,
	}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<html><head><title>seqshm-exporter</title></head><body>
<h1>seqshm-exporter</h1><p><a href="/metrics">/metrics</a> · <a href="/healthz">/healthz</a></p></body></html>
`)
	})

	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return listenError(cfg.listen, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	globs := cfg.globs
	if len(globs) == 0 {
		globs = []string{"*"}
	}
	log.Printf("serving http://%s/metrics for the segments matching %s in %s", ln.Addr(), strings.Join(globs, " "), cli.Dir())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return &cli.Error{Msg: "serving on " + cfg.listen + ": " + err.Error(), Err: err}
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	return nil
}

// listenError explains a failure to listen on addr.
func listenError(addr string, err error) error {
	e := &cli.Error{Msg: "cannot listen on " + addr + ": " + cli.Cause(err), Err: err}
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		e.Msg = "cannot listen on " + addr + ": address already in use"
		e.Hints = []string{"another seqshm-exporter (or another program) serves there; stop it or choose another port with -listen 127.0.0.1:PORT"}
	case errors.Is(err, syscall.EACCES):
		e.Hints = []string{"ports below 1024 need privileges; choose a port such as 9866"}
	default:
		e.Hints = []string{"give -listen HOST:PORT with an address of this machine, such as 127.0.0.1:9866"}
	}
	return e
}

// logger writes diagnostics as "seqshm-exporter: ..." lines, one at a
// time. It is promhttp's ErrorLog too.
type logger struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *logger) Printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, tool+": "+format+"\n", args...)
}

func (l *logger) Println(args ...any) {
	l.Printf("%s", strings.TrimSuffix(fmt.Sprintln(args...), "\n"))
}
