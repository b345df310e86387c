package gateway

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// frameTap watches the client's bytes as they are read and notes a frame
// whose payload is over the limit. The WebSocket library checks whole
// messages only (API Gateway's 128 KB); frames (its 32 KB) are checked here,
// on the raw stream, without changing a byte of it.
type frameTap struct {
	limit int64
	over  atomic.Bool

	// Parser state across reads.
	header  []byte // bytes of the frame header read so far
	payload uint64 // payload bytes of the current frame still to skip
}

func (t *frameTap) exceeded() bool { return t.over.Load() }

// observe feeds bytes read from the client to the frame parser.
func (t *frameTap) observe(p []byte) {
	for len(p) > 0 {
		if t.payload > 0 {
			n := min(uint64(len(p)), t.payload)
			t.payload -= n
			p = p[n:]
			continue
		}
		t.header = append(t.header, p[0])
		p = p[1:]
		length, ok := parseFrameHeader(t.header)
		if !ok {
			continue // need more header bytes
		}
		if t.limit > 0 && length > uint64(t.limit) {
			t.over.Store(true)
		}
		t.header = t.header[:0]
		t.payload = length
	}
}

// parseFrameHeader returns the payload length once h holds a whole
// RFC 6455 frame header.
func parseFrameHeader(h []byte) (length uint64, ok bool) {
	if len(h) < 2 {
		return 0, false
	}
	masked := h[1]&0x80 != 0
	size := 2
	length = uint64(h[1] & 0x7f)
	switch length {
	case 126:
		size += 2
	case 127:
		size += 8
	}
	if masked {
		size += 4
	}
	if len(h) < size {
		return 0, false
	}
	switch length {
	case 126:
		length = uint64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		length = binary.BigEndian.Uint64(h[2:10])
	}
	return length, true
}

// tapConn is the hijacked connection with its reads observed.
type tapConn struct {
	net.Conn
	r   io.Reader // bytes buffered before the hijack, then the connection
	tap *frameTap
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.tap.observe(p[:n])
	return n, err
}

// tapWriter hands the WebSocket library a hijacked connection whose reads
// pass through the tap.
type tapWriter struct {
	http.ResponseWriter
	tap *frameTap
	raw net.Conn // the hijacked connection, once hijacked
}

func (w *tapWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("response writer cannot hijack")
	}
	netConn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	// net/http leaves the deadlines of its timeouts on a hijacked
	// connection; a WebSocket connection has API Gateway's limits instead.
	if err := netConn.SetDeadline(time.Time{}); err != nil {
		_ = netConn.Close()
		return nil, nil, fmt.Errorf("clear deadlines of the hijacked connection: %w", err)
	}
	w.raw = netConn
	buffered, _ := brw.Reader.Peek(brw.Reader.Buffered())
	pending := append([]byte(nil), buffered...)
	tc := &tapConn{Conn: netConn, tap: w.tap, r: io.MultiReader(bytes.NewReader(pending), netConn)}
	return tc, bufio.NewReadWriter(bufio.NewReader(tc), brw.Writer), nil
}
