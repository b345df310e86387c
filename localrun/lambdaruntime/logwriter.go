package lambdaruntime

import (
	"bytes"
	"io"
	"sync"
)

// maxLineBytes bounds a line held back while waiting for its newline;
// CloudWatch Logs' own limit on an event is 256 KB.
const maxLineBytes = 256 * 1024

// lineWriter copies a process's output to out one whole line at a time,
// each prefixed and written with a single Write under mu, which all
// instances of a pool share, so their lines never interleave.
//
// Write never fails: an error would make os/exec stop draining the pipe and
// block the function on its next print.
type lineWriter struct {
	mu      *sync.Mutex
	out     io.Writer
	prefix  string
	partial []byte // start of a line whose newline has not come yet
	line    []byte // scratch for prefix + line + "\n"
}

func (lw *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			lw.partial = append(lw.partial, p...)
			if len(lw.partial) >= maxLineBytes {
				lw.flush()
			}
			break
		}
		if len(lw.partial) > 0 {
			lw.partial = append(lw.partial, p[:i]...)
			lw.flush()
		} else {
			lw.emit(p[:i])
		}
		p = p[i+1:]
	}
	return n, nil
}

// flush writes a pending partial line, as when the process has ended.
func (lw *lineWriter) flush() {
	if len(lw.partial) > 0 {
		lw.emit(lw.partial)
		lw.partial = lw.partial[:0]
	}
}

func (lw *lineWriter) emit(text []byte) {
	lw.line = append(append(append(lw.line[:0], lw.prefix...), text...), '\n')
	lw.mu.Lock()
	_, _ = lw.out.Write(lw.line)
	lw.mu.Unlock()
}
