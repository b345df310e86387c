package gateway

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// ServerLimits bound what a client can hold of the local process without
// being a WebSocket connection, and how many connections it keeps open at
// once. API Gateway has no such limits a client could meet on one host; the
// emulator needs them because it is one process with one file-descriptor
// limit (FIDELITY.md, differences).
type ServerLimits struct {
	// MaxConnections caps the TCP connections open at once, WebSocket
	// connections included. Past it, new connections wait in the kernel's
	// accept queue until one closes.
	MaxConnections int
	// ReadHeaderTimeout bounds the request line and headers, counted from
	// the connection's start (a socket that sends nothing included).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds a whole non-WebSocket request, body included.
	ReadTimeout time.Duration
	// WriteTimeout bounds a non-WebSocket request from its headers to the
	// end of its response.
	WriteTimeout time.Duration
	// IdleTimeout bounds a keep-alive connection waiting for its next request.
	IdleTimeout time.Duration
}

// DefaultServerLimits fit a default `ulimit -n` of 1024: 768 connections
// leave room for the Lambda processes' pipes, the runtime API and the
// files of the run (Gateway.Listener lowers the cap under a lower limit). The timeouts are far above what a local client needs
// (its requests are headers, or @connections bodies of at most 128 KB).
var DefaultServerLimits = ServerLimits{
	MaxConnections:    768,
	ReadHeaderTimeout: 10 * time.Second,
	ReadTimeout:       30 * time.Second,
	WriteTimeout:      30 * time.Second,
	IdleTimeout:       30 * time.Second,
}

// withDefaults fills the zero fields from DefaultServerLimits.
func (l ServerLimits) withDefaults() ServerLimits {
	d := DefaultServerLimits
	if l.MaxConnections <= 0 {
		l.MaxConnections = d.MaxConnections
	}
	if l.ReadHeaderTimeout <= 0 {
		l.ReadHeaderTimeout = d.ReadHeaderTimeout
	}
	if l.ReadTimeout <= 0 {
		l.ReadTimeout = d.ReadTimeout
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = d.WriteTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = d.IdleTimeout
	}
	return l
}

// NewHTTPServer returns a server for h with the timeouts of l (zero fields:
// the defaults). The read and write timeouts govern plain requests only:
// the gateway lifts them from a WebSocket handshake as it starts, since the
// handshake waits on the authorizer and $connect (bounded by their own
// timeouts) and the connection then lives under API Gateway's idle and
// duration limits.
func NewHTTPServer(h http.Handler, l ServerLimits, log *slog.Logger) *http.Server {
	l = l.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		// net/http's own complaints (accept errors, TLS handshakes) go to
		// the run's log rather than to stderr unstructured.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// HTTPServer returns the server for the gateway's listener, h being the
// gateway or a handler that wraps it, with Options.Server's timeouts.
func (g *Gateway) HTTPServer(h http.Handler) *http.Server {
	return NewHTTPServer(h, g.opts.Server, g.log)
}

// Listener caps ln's open connections at Options.Server.MaxConnections;
// when that is not set, at 768 or, under a lower file limit than the
// default 1024, at three quarters of it, so that the cap is met before the
// limit is.
func (g *Gateway) Listener(ln net.Listener) *LimitListener {
	n := g.opts.Server.MaxConnections
	if n <= 0 {
		n = defaultMaxConnections(fdLimit())
		g.log.Info("connection cap", "maxConnections", n)
	}
	return NewLimitListener(ln, n, g.log)
}

// defaultMaxConnections is DefaultServerLimits.MaxConnections, lowered to
// three quarters of a file limit under 1024 (limit 0: unknown).
func defaultMaxConnections(limit uint64) int {
	n := DefaultServerLimits.MaxConnections
	if limit > 0 && limit*3/4 < uint64(n) {
		n = max(int(limit*3/4), 1)
	}
	return n
}

// LimitListener accepts at most n connections open at once; the next
// Accept waits until one of them is closed. Waiting rather than refusing:
// a waiting client costs the process no file descriptor (it sits in the
// kernel's accept queue), slots free within the server's timeouts, and a
// client such as wscat or a browser gets its connection late rather than
// an error it does not retry.
type LimitListener struct {
	net.Listener
	slots     chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	log       *slog.Logger

	open      atomic.Int64
	peak      atomic.Int64
	saturated atomic.Bool // warned since the last accept that did not wait
}

// NewLimitListener wraps ln with a cap of n open connections.
func NewLimitListener(ln net.Listener, n int, log *slog.Logger) *LimitListener {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &LimitListener{Listener: ln, slots: make(chan struct{}, max(n, 1)), done: make(chan struct{}), log: log}
}

// Accept waits for a free slot, then for a connection.
func (l *LimitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
		l.saturated.Store(false)
	default:
		if !l.saturated.Swap(true) {
			l.log.Warn("connection limit reached: new connections wait until one closes", "maxConnections", cap(l.slots))
		}
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	open := l.open.Add(1)
	for {
		p := l.peak.Load()
		if open <= p || l.peak.CompareAndSwap(p, open) {
			break
		}
	}
	return &limitConn{Conn: c, l: l}, nil
}

// Close stops Accept, waiting or not, and closes ln.
func (l *LimitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// Open is the number of connections open now.
func (l *LimitListener) Open() int { return int(l.open.Load()) }

// Peak is the most connections that were open at once.
func (l *LimitListener) Peak() int { return int(l.peak.Load()) }

// limitConn gives its slot back once, however many times it is closed
// (net/http, the WebSocket library and the gateway all may).
type limitConn struct {
	net.Conn
	l         *LimitListener
	closeOnce sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() {
		c.l.open.Add(-1)
		<-c.l.slots
	})
	return err
}

// CloseWrite lets net/http and the gateway half-close the connection
// before closing it, as they do with a bare *net.TCPConn.
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
