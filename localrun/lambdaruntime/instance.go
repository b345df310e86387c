package lambdaruntime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"time"
)

// lambdaPath is the PATH Lambda gives provided.al2023 functions.
const lambdaPath = "/usr/local/bin:/usr/bin/:/bin:/opt/bin"

// invocation is one event on its way through an instance.
type invocation struct {
	id       string
	traceID  string
	payload  []byte
	deadline time.Time   // set before the event is handed to /next
	result   chan Result // the runtime's answer; buffered, written at most once
}

func newInvocation(payload []byte) *invocation {
	return &invocation{id: newRequestID(), traceID: newTraceID(), payload: payload, result: make(chan Result, 1)}
}

// instance is one process of the function with its own Runtime API server.
type instance struct {
	pool *Pool
	num  int

	next       chan *invocation // unbuffered: a send succeeds when /next takes the event
	polled     chan struct{}    // a token each time the runtime calls /next
	initFailed chan struct{}    // closed on /init/error
	exited     chan struct{}    // closed once the process has been reaped
	stopOnce   sync.Once

	mu      sync.Mutex
	stopped bool
	cmd     *exec.Cmd
	srv     *http.Server
	served  chan struct{} // closed when srv.Serve has returned
	status  string        // how the process ended
	ready   bool          // the runtime has called /next once
	initErr *FunctionError
	current *invocation // handed out by /next, not yet answered
}

func newInstance(p *Pool, num int) *instance {
	return &instance{
		pool:       p,
		num:        num,
		next:       make(chan *invocation),
		polled:     make(chan struct{}, 1),
		initFailed: make(chan struct{}),
		exited:     make(chan struct{}),
	}
}

// launch starts inst's Runtime API server on 127.0.0.1 and its process.
// It must run in a goroutine the pool's WaitGroup counts.
func (p *Pool) launch(inst *instance) error {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	if inst.stopped {
		return ErrClosed
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for the Runtime API: %w", err)
	}
	inst.srv = &http.Server{
		Handler:           inst.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
	}
	inst.served = make(chan struct{})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(inst.served)
		_ = inst.srv.Serve(ln) // ends with ErrServerClosed
	}()

	env := maps.Clone(p.env)
	env["AWS_LAMBDA_RUNTIME_API"] = ln.Addr().String()
	env["AWS_LAMBDA_LOG_STREAM_NAME"] = newLogStreamName()

	prefix := fmt.Sprintf("[%s#%d] ", p.fn.Name, inst.num)
	stdout := &lineWriter{mu: &p.logMu, out: p.logs, prefix: prefix}
	stderr := &lineWriter{mu: &p.logMu, out: p.logs, prefix: prefix}
	cmd := exec.Command(p.fn.Executable)
	cmd.Dir = p.fn.Dir
	cmd.Env = envList(env)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Children that keep the output pipes open must not block Wait forever.
	cmd.WaitDelay = time.Second
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.fn.Executable, err)
	}
	inst.cmd = cmd
	p.log.Debug("instance started", "instance", inst.num, "pid", cmd.Process.Pid, "runtimeAPI", env["AWS_LAMBDA_RUNTIME_API"])

	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		err := cmd.Wait()
		// Wait has finished copying, so no Write races with the flush.
		stdout.flush()
		stderr.flush()
		status := ""
		if cmd.ProcessState != nil {
			status = cmd.ProcessState.String()
		} else if err != nil {
			status = err.Error()
		}
		inst.mu.Lock()
		inst.status = status
		inst.mu.Unlock()
		close(inst.exited)
	}()
	return nil
}

// shutdown stops the process (SIGTERM, then SIGKILL after grace; at once
// when grace is 0) and the server, and waits for both. Concurrent and later
// calls wait for the first one to finish.
func (inst *instance) shutdown(grace time.Duration) {
	inst.stopOnce.Do(func() {
		inst.mu.Lock()
		inst.stopped = true
		cmd, srv, served := inst.cmd, inst.srv, inst.served
		inst.mu.Unlock()

		if cmd != nil {
			terminate(cmd, inst.exited, grace)
		}
		if srv != nil {
			// The process is gone, so connections are closing already;
			// Shutdown waits for their handlers to return.
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = srv.Shutdown(ctx)
			cancel()
			_ = srv.Close()
			<-served
		}
	})
}

// terminate ends cmd's process group and waits until the process is reaped.
func terminate(cmd *exec.Cmd, exited <-chan struct{}, grace time.Duration) {
	select {
	case <-exited:
		return
	default:
	}
	if grace > 0 && signalStop(cmd) {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-exited:
			return
		case <-t.C:
		}
	}
	kill(cmd)
	<-exited
}

func (inst *instance) exitStatus() string {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	return inst.status
}

func (inst *instance) initError() *FunctionError {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	return inst.initErr
}

// functionEnv is the environment every instance of fn gets, less the
// per-instance AWS_LAMBDA_RUNTIME_API and AWS_LAMBDA_LOG_STREAM_NAME. It is
// built from nothing on purpose: the host's environment (credentials!) must
// not leak into functions.
func functionEnv(fn Function) map[string]string {
	env := map[string]string{
		// Lambda's defaults, which a function may override.
		"PATH": lambdaPath,
		"LANG": "en_US.UTF-8",
		"TZ":   ":UTC",
	}
	maps.Copy(env, fn.Env)

	region := fn.Env["AWS_REGION"]
	if region == "" {
		region = fn.Env["AWS_DEFAULT_REGION"]
	}
	if region == "" {
		region = "us-east-1"
	}
	// Lambda reserves these: they win over the function's own.
	maps.Copy(env, map[string]string{
		"AWS_REGION":                      region,
		"AWS_DEFAULT_REGION":              region,
		"AWS_LAMBDA_FUNCTION_NAME":        fn.Name,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(fn.MemoryMB),
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + fn.Name,
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"_HANDLER":                        "bootstrap",
		"LAMBDA_TASK_ROOT":                fn.Dir,
	})
	delete(env, "AWS_LAMBDA_LOG_FORMAT")
	delete(env, "AWS_LAMBDA_LOG_LEVEL")
	if fn.LogFormat != "" {
		env["AWS_LAMBDA_LOG_FORMAT"] = fn.LogFormat
	}
	if fn.LogLevel != "" {
		env["AWS_LAMBDA_LOG_LEVEL"] = fn.LogLevel
	}
	return env
}

// envList is env as KEY=value lines in a stable order.
func envList(env map[string]string) []string {
	list := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		list = append(list, k+"="+env[k])
	}
	return list
}

// newRequestID returns a random (version 4) UUID, as Lambda's request IDs are.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newTraceID returns an X-Ray trace header of a trace that is not sampled.
func newTraceID() string {
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", time.Now().Unix(), randomHex(12), randomHex(8))
}

// newLogStreamName has the form Lambda gives its log streams.
func newLogStreamName() string {
	return time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + randomHex(16)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
