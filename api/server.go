package api

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// DefaultShutdownTimeout is how long in-flight requests may run after the
// serving context ends before their connections are closed.
const DefaultShutdownTimeout = 30 * time.Second

// DefaultMaxConns caps the connections served at once. It is far above
// what SDK clients open (the Go SDK keeps a few per host, the KPL and KCL
// tens), and keeps a flood of idle or slow connections from holding the
// server's memory and file descriptors without bound.
const DefaultMaxConns = 1024

// Server serves a handler over HTTP/1.1 and cleartext HTTP/2 (h2c with
// prior knowledge, as the Java SDK v2 async client speaks it on http://)
// on one listener, or over TLS with HTTP/2 and HTTP/1.1 when TLS is set.
type Server struct {
	// Handler answers every request, normally NewHandler's.
	Handler http.Handler
	// Logger receives server errors (bad TLS-less handshakes, accept
	// failures) and the start and end of serving; nil discards them.
	Logger *slog.Logger
	// ShutdownTimeout bounds the graceful shutdown; zero means
	// DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// MaxConns caps the connections open at once; further connections wait
	// in the listen queue until one closes. Zero means DefaultMaxConns;
	// negative means no cap.
	MaxConns int
	// TLS, when set, serves HTTPS only: TLS 1.2 or later, HTTP/2 chosen
	// by ALPN and HTTP/1.1 on the same port. It needs Certificates (or
	// GetCertificate). Nil serves cleartext HTTP/1.1 and h2c.
	TLS *tls.Config
}

// Serve accepts connections on ln until ctx ends, then stops accepting,
// lets in-flight requests finish (up to ShutdownTimeout) and returns nil.
// It returns an error only when serving fails for another reason. The
// listener is closed on return.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch {
	case s.MaxConns == 0:
		ln = netutil.LimitListener(ln, DefaultMaxConns)
	case s.MaxConns > 0:
		ln = netutil.LimitListener(ln, s.MaxConns)
	}
	grace := s.ShutdownTimeout
	if grace <= 0 {
		grace = DefaultShutdownTimeout
	}
	// net/http serves unencrypted HTTP/2 itself since Go 1.24, and unlike
	// the deprecated x/net h2c wrapper, which hijacks connections out of
	// the server's sight, its Shutdown drains HTTP/2 connections too.
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	var tlsConf *tls.Config
	if s.TLS != nil {
		tlsConf = s.TLS.Clone()
		tlsConf.MinVersion = max(tlsConf.MinVersion, tls.VersionTLS12)
		protocols.SetHTTP2(true) // ServeTLS offers h2 then http/1.1 by ALPN
	} else {
		protocols.SetUnencryptedHTTP2(true)
	}
	// No ReadTimeout or WriteTimeout: a SubscribeToShard reply streams for
	// up to five minutes (its writes have their own per-message deadline),
	// and the handler bounds each request body's read itself.
	// Streams end cleanly as soon as shutdown starts: the drain context in
	// every request's context tells them.
	drain, startDrain := context.WithCancel(context.Background())
	defer startDrain()
	srv := &http.Server{
		Handler:           s.Handler,
		Protocols:         protocols,
		TLSConfig:         tlsConf,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext: func(net.Listener) context.Context {
			return context.WithValue(context.Background(), drainKey{}, drain)
		},
	}
	srv.RegisterOnShutdown(startDrain)
	errc := make(chan error, 1)
	go func() {
		if tlsConf != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	log.Info("serving the Kinesis API", "addr", ln.Addr().String(), "tls", tlsConf != nil)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		log.Warn("shutdown timed out; closing remaining connections", "timeout", grace)
		err = srv.Close()
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	log.Info("stopped serving the Kinesis API", "addr", ln.Addr().String())
	return err
}

// Serve serves h on ln over HTTP/1.1 and cleartext HTTP/2 until ctx ends,
// then shuts down gracefully, with the default limits; see Server.Serve.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	return (&Server{Handler: h, Logger: logger}).Serve(ctx, ln)
}
