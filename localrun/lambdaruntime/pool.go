package lambdaruntime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"time"
)

// Error types the pool reports itself, in [FunctionError.Type]; others come
// from the function's runtime.
const (
	// ErrorTypeTimeout: the function did not answer before its timeout, or
	// did not initialize within [Options.InitTimeout].
	ErrorTypeTimeout = "Sandbox.Timedout"
	// ErrorTypeExit: the process exited before it answered.
	ErrorTypeExit = "Runtime.ExitError"
	// ErrorTypeResponseTooLarge: the runtime posted more than Lambda's 6 MB.
	ErrorTypeResponseTooLarge = "Function.ResponseSizeTooLarge"
)

// Lambda's limits, kept so that what works locally does not fail on size
// once deployed.
const (
	maxRequestSize  = 6 * 1024 * 1024        // a synchronous invocation's payload
	maxResponseSize = 6*1024*1024 + 100      // what a runtime may post, as Lambda counts it
	defaultTimeout  = 3 * time.Second        // Lambda's default function timeout
	defaultMemoryMB = 128                    // Lambda's default memory size
	lambdaMaxMemory = 10240                  // Lambda's largest memory size
	lambdaInitLimit = 10 * time.Second       // Lambda's limit on the init phase
	defaultGrace    = 2 * time.Second        // SIGTERM to SIGKILL on Close
	postResponseMin = 500 * time.Millisecond // least time a runtime gets to ask for the next event
	reuseWait       = 20 * time.Millisecond  // how long a cold start waits for an instance about to be idle
)

// ErrClosed is returned by [Pool.Invoke] once [Pool.Close] has been called.
var ErrClosed = errors.New("lambdaruntime: pool closed")

// functionName is Lambda's rule for a function name.
var functionName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Function describes one Lambda function to run locally.
type Function struct {
	// Name is the function's name: AWS_LAMBDA_FUNCTION_NAME, the log prefix
	// and the last part of the invoked function ARN. Lambda's rule applies:
	// 1 to 64 letters, digits, hyphens or underscores.
	Name string
	// Executable is the absolute path of the bootstrap executable.
	Executable string
	// Dir is the working directory and LAMBDA_TASK_ROOT, normally the
	// function's asset directory. Empty means the executable's directory.
	Dir string
	// Env is the function's environment, already resolved. See the package
	// documentation for what is added and what is never inherited.
	Env map[string]string
	// Timeout is the function's timeout; zero means Lambda's default, 3 s.
	Timeout time.Duration
	// MemoryMB is reported to the function (it is not enforced); zero means
	// 128.
	MemoryMB int
	// MaxInstances is how many instances may run at once; zero means 1.
	MaxInstances int
	// LogFormat is AWS_LAMBDA_LOG_FORMAT: "", "Text" or "JSON".
	LogFormat string
	// LogLevel is AWS_LAMBDA_LOG_LEVEL: "" or one of TRACE, DEBUG, INFO,
	// WARN, ERROR, FATAL.
	LogLevel string
}

// Options tunes a [Pool]; the zero value is ready to use.
type Options struct {
	// Logger receives the pool's own diagnostics (instances started and
	// discarded, timeouts). Nil discards them.
	Logger *slog.Logger
	// InitTimeout limits how long a new instance may take to ask for its
	// first invocation. Zero means Lambda's 10 s.
	InitTimeout time.Duration
	// StopGrace is how long Close waits between SIGTERM and SIGKILL. Zero
	// means 2 s.
	StopGrace time.Duration
}

// Result is the outcome of one invocation that reached the function.
type Result struct {
	// Payload is the function's response body, when it succeeded.
	Payload []byte
	// Error is non-nil when the function returned an error, timed out,
	// crashed or failed to initialize.
	Error *FunctionError
	// RequestID is the invocation's Lambda-Runtime-Aws-Request-Id.
	RequestID string
	// Duration runs from handing the event to the runtime until its answer,
	// as Lambda's REPORT line counts it.
	Duration time.Duration
	// InitDuration is the cold start's initialization time; zero when an
	// instance was warm.
	InitDuration time.Duration
}

// FunctionError is a failed invocation, with the JSON names of the Runtime
// API's error document ({"errorType": ..., "errorMessage": ...}).
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

// Error makes a FunctionError usable as an error.
func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// Pool runs instances of one function and invokes them. Its methods are safe
// for concurrent use.
type Pool struct {
	fn          Function
	log         *slog.Logger
	initTimeout time.Duration
	grace       time.Duration
	arn         string
	env         map[string]string // without the per-instance variables

	logMu sync.Mutex // serializes lines of all instances on logs
	logs  io.Writer

	idle      chan *instance // warm instances whose runtime is waiting in /next
	finishing atomic.Int32   // instances that answered and will be idle once they call /next
	slots     chan struct{}  // one token per live instance, capacity MaxInstances
	done      chan struct{}  // closed by Close
	wg        sync.WaitGroup // every goroutine the pool starts

	mu     sync.Mutex
	closed bool
	seq    int                    // last instance number
	all    map[*instance]struct{} // instances holding a slot
}

// NewPool checks fn and returns a pool that starts no process until the first
// invocation. The processes' output goes to logs (nil discards it); opts may
// be nil.
func NewPool(fn Function, logs io.Writer, opts *Options) (*Pool, error) {
	if err := resolve(&fn); err != nil {
		return nil, fmt.Errorf("lambdaruntime: function %q: %w", fn.Name, err)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.InitTimeout <= 0 {
		o.InitTimeout = lambdaInitLimit
	}
	if o.StopGrace <= 0 {
		o.StopGrace = defaultGrace
	}
	if logs == nil {
		logs = io.Discard
	}
	env := functionEnv(fn)
	return &Pool{
		fn:          fn,
		log:         o.Logger.With("function", fn.Name),
		initTimeout: o.InitTimeout,
		grace:       o.StopGrace,
		arn:         "arn:aws:lambda:" + env["AWS_REGION"] + ":000000000000:function:" + fn.Name,
		env:         env,
		logs:        logs,
		idle:        make(chan *instance, fn.MaxInstances),
		slots:       make(chan struct{}, fn.MaxInstances),
		done:        make(chan struct{}),
		all:         make(map[*instance]struct{}),
	}, nil
}

// resolve validates fn and fills in Lambda's defaults.
func resolve(fn *Function) error {
	if !functionName.MatchString(fn.Name) {
		return errors.New("name must be 1 to 64 letters, digits, hyphens or underscores")
	}
	if !filepath.IsAbs(fn.Executable) {
		return fmt.Errorf("executable %q is not an absolute path", fn.Executable)
	}
	st, err := os.Stat(fn.Executable)
	if err != nil {
		return fmt.Errorf("executable: %w", err)
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("executable %s is not an executable file", fn.Executable)
	}
	if fn.Dir == "" {
		fn.Dir = filepath.Dir(fn.Executable)
	}
	if st, err := os.Stat(fn.Dir); err != nil {
		return fmt.Errorf("dir: %w", err)
	} else if !st.IsDir() {
		return fmt.Errorf("dir %s is not a directory", fn.Dir)
	}
	switch {
	case fn.Timeout < 0:
		return fmt.Errorf("negative timeout %v", fn.Timeout)
	case fn.Timeout == 0:
		fn.Timeout = defaultTimeout
	}
	switch {
	case fn.MemoryMB == 0:
		fn.MemoryMB = defaultMemoryMB
	case fn.MemoryMB < defaultMemoryMB || fn.MemoryMB > lambdaMaxMemory:
		return fmt.Errorf("memory %d MB outside Lambda's %d to %d", fn.MemoryMB, defaultMemoryMB, lambdaMaxMemory)
	}
	switch {
	case fn.MaxInstances < 0:
		return fmt.Errorf("negative MaxInstances %d", fn.MaxInstances)
	case fn.MaxInstances == 0:
		fn.MaxInstances = 1
	}
	switch fn.LogFormat {
	case "", "Text", "JSON":
	default:
		return fmt.Errorf("log format %q is not Text or JSON", fn.LogFormat)
	}
	switch fn.LogLevel {
	case "", "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL":
	default:
		return fmt.Errorf("unknown log level %q", fn.LogLevel)
	}
	return nil
}

// outcome is what an invocation's goroutine hands back to Invoke.
type outcome struct {
	res Result
	err error
}

// Invoke runs one invocation synchronously, on an idle warm instance if
// there is one, else on a new instance if fewer than MaxInstances run, else
// on the first instance to become free. The error is non-nil only when the
// invocation could not be run or its result not awaited (ctx done, pool
// closed, instance not startable); a failure of the function itself is in
// Result.Error.
//
// If ctx ends while the function runs, Invoke returns at once but the
// function goes on, as on Lambda, and its instance is reused afterwards.
func (p *Pool) Invoke(ctx context.Context, payload []byte) (Result, error) {
	if len(payload) > maxRequestSize {
		return Result{}, fmt.Errorf("invoke %s: payload of %d bytes exceeds Lambda's %d", p.fn.Name, len(payload), maxRequestSize)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("invoke %s: %w", p.fn.Name, err)
	}
	inst, err := p.acquire(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("invoke %s: %w", p.fn.Name, err)
	}
	// Add under mu, so that no goroutine starts after Close began waiting.
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		if inst == nil {
			<-p.slots
		}
		return Result{}, fmt.Errorf("invoke %s: %w", p.fn.Name, ErrClosed)
	}
	p.wg.Add(1)
	p.mu.Unlock()

	// The payload is copied: the invocation may outlive this call.
	inv := newInvocation(bytes.Clone(payload))
	out := make(chan outcome, 1)
	go p.execute(ctx, inst, inv, out)
	select {
	case o := <-out:
		if o.err != nil {
			return o.res, fmt.Errorf("invoke %s: %w", p.fn.Name, o.err)
		}
		return o.res, nil
	case <-ctx.Done():
		return Result{RequestID: inv.id}, fmt.Errorf("invoke %s (request %s): %w", p.fn.Name, inv.id, ctx.Err())
	}
}

// acquire returns an idle instance, or nil with a slot taken for a new one.
func (p *Pool) acquire(ctx context.Context) (*instance, error) {
	for {
		// A warm instance first: that is what Lambda does, and it is fast.
		select {
		case inst := <-p.idle:
			if p.usable(inst) {
				return inst, nil
			}
			continue
		default:
		}
		// An instance that has just answered is idle again within
		// microseconds, as soon as its runtime asks for the next event:
		// back-to-back invocations should not each start a new instance.
		if p.finishing.Load() > 0 {
			t := time.NewTimer(reuseWait)
			select {
			case inst := <-p.idle:
				t.Stop()
				if p.usable(inst) {
					return inst, nil
				}
				continue
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-p.done:
				t.Stop()
				return nil, ErrClosed
			}
		}
		select {
		case inst := <-p.idle:
			if p.usable(inst) {
				return inst, nil
			}
		case p.slots <- struct{}{}:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-p.done:
			return nil, ErrClosed
		}
	}
}

// usable discards an idle instance whose process exited while it waited.
func (p *Pool) usable(inst *instance) bool {
	select {
	case <-inst.exited:
		p.log.Warn("idle instance exited", "instance", inst.num, "status", inst.exitStatus())
		p.discard(inst, 0)
		return false
	default:
		return true
	}
}

// execute runs inv on inst (a new instance when nil), sends the outcome on
// out, then waits for the runtime to ask for its next event before the
// instance counts as idle again: on Lambda an invocation is complete only
// then, and a runtime that exits instead (after a panic, say) must not be
// handed the next invocation.
func (p *Pool) execute(ctx context.Context, inst *instance, inv *invocation, out chan<- outcome) {
	defer p.wg.Done()
	var initDuration time.Duration
	if inst == nil {
		var res *Result
		var err error
		inst, initDuration, res, err = p.coldStart(inv.id)
		if err != nil || res != nil {
			out <- outcome{res: deref(res), err: err}
			return
		}
	}
	// The function never sees an event whose caller has already gone.
	if err := ctx.Err(); err != nil {
		p.idle <- inst
		out <- outcome{res: Result{RequestID: inv.id}, err: err}
		return
	}

	timer := time.NewTimer(p.fn.Timeout)
	defer timer.Stop()
	start := time.Now()
	inv.deadline = start.Add(p.fn.Timeout)
	fail := func(fe *FunctionError) {
		// Close kills the process, which must read as ErrClosed, not a crash.
		if p.isClosed() {
			out <- outcome{res: Result{RequestID: inv.id}, err: ErrClosed}
			return
		}
		out <- outcome{res: Result{Error: fe, RequestID: inv.id, Duration: time.Since(start), InitDuration: initDuration}}
	}

	select {
	case inst.next <- inv:
	case <-inst.exited:
		p.discard(inst, 0)
		fail(exitError(inv.id, inst.exitStatus()))
		return
	case <-timer.C:
		p.timedOut(inst, inv.id)
		fail(timeoutError(p.fn.Timeout))
		return
	case <-p.done:
		out <- outcome{res: Result{RequestID: inv.id}, err: ErrClosed}
		return
	}

	var res Result
	select {
	case res = <-inv.result:
	case <-inst.exited:
		// A runtime may post its answer and exit at once: the answer wins.
		select {
		case res = <-inv.result:
		default:
			p.log.Warn("instance exited during an invocation", "instance", inst.num, "request", inv.id, "status", inst.exitStatus())
			p.discard(inst, 0)
			fail(exitError(inv.id, inst.exitStatus()))
			return
		}
	case <-timer.C:
		p.timedOut(inst, inv.id)
		fail(timeoutError(p.fn.Timeout))
		return
	case <-p.done:
		out <- outcome{res: Result{RequestID: inv.id}, err: ErrClosed}
		return
	}
	res.RequestID, res.Duration, res.InitDuration = inv.id, time.Since(start), initDuration
	p.finishing.Add(1)
	defer p.finishing.Add(-1)
	out <- outcome{res: res}

	// A runtime that does not come back by the deadline is stuck.
	timer.Reset(max(time.Until(inv.deadline), postResponseMin))
	select {
	case <-inst.polled:
		p.idle <- inst
	case <-inst.exited:
		p.log.Info("instance exited after an invocation", "instance", inst.num, "request", inv.id, "status", inst.exitStatus())
		p.discard(inst, 0)
	case <-timer.C:
		p.log.Warn("instance did not ask for its next event; killing it", "instance", inst.num, "request", inv.id)
		p.discard(inst, 0)
	case <-p.done:
	}
}

// coldStart starts a new instance and waits for its runtime to finish
// initializing, that is to ask for its first event. It returns a Result
// instead of the instance when initialization failed.
func (p *Pool) coldStart(requestID string) (*instance, time.Duration, *Result, error) {
	inst := p.register()
	if inst == nil {
		return nil, 0, nil, ErrClosed
	}
	start := time.Now()
	if err := p.launch(inst); err != nil {
		p.discard(inst, 0)
		return nil, 0, nil, err
	}
	timer := time.NewTimer(p.initTimeout)
	defer timer.Stop()
	failed := func(fe *FunctionError) (*instance, time.Duration, *Result, error) {
		d := time.Since(start)
		p.discard(inst, 0)
		if p.isClosed() {
			return nil, 0, nil, ErrClosed
		}
		p.log.Warn("instance failed to initialize", "instance", inst.num, "error", fe)
		return nil, d, &Result{Error: fe, RequestID: requestID, InitDuration: d}, nil
	}
	select {
	case <-inst.polled:
		d := time.Since(start)
		p.log.Debug("instance ready", "instance", inst.num, "init", d)
		return inst, d, nil, nil
	case <-inst.initFailed:
		return failed(inst.initError())
	case <-inst.exited:
		// A runtime reports its init error, then exits: the report wins.
		select {
		case <-inst.initFailed:
			return failed(inst.initError())
		default:
			return failed(exitError(requestID, inst.exitStatus()))
		}
	case <-timer.C:
		return failed(&FunctionError{Type: ErrorTypeTimeout, Message: fmt.Sprintf("Init timed out after %.2f seconds", p.initTimeout.Seconds())})
	case <-p.done:
		return nil, 0, nil, ErrClosed
	}
}

func (p *Pool) isClosed() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// register numbers a new instance and records it, so that Close finds it.
// The caller holds a slot; register gives it back when the pool is closed.
func (p *Pool) register() *instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		<-p.slots
		return nil
	}
	p.seq++
	inst := newInstance(p, p.seq)
	p.all[inst] = struct{}{}
	return inst
}

// discard stops inst and gives its slot back once its process is gone, so
// that no more than MaxInstances processes ever exist.
func (p *Pool) discard(inst *instance, grace time.Duration) {
	inst.shutdown(grace)
	p.mu.Lock()
	_, held := p.all[inst]
	delete(p.all, inst)
	p.mu.Unlock()
	if held {
		<-p.slots
	}
}

// timedOut kills inst, as Lambda does when a function overruns.
func (p *Pool) timedOut(inst *instance, requestID string) {
	p.log.Warn("invocation timed out; killing the instance", "instance", inst.num, "request", requestID, "timeout", p.fn.Timeout)
	p.discard(inst, 0)
}

// Close stops every instance (SIGTERM, then SIGKILL after Options.StopGrace),
// waits for their processes and the pool's goroutines, and frees their
// ports. Invocations still running return ErrClosed, and so do later ones.
// Close is idempotent.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return nil
	}
	p.closed = true
	close(p.done)
	insts := make([]*instance, 0, len(p.all))
	for inst := range p.all {
		insts = append(insts, inst)
	}
	p.mu.Unlock()

	var wg sync.WaitGroup
	for _, inst := range insts {
		wg.Go(func() { inst.shutdown(p.grace) })
	}
	wg.Wait()
	p.wg.Wait()
	p.log.Debug("pool closed", "instances", len(insts))
	return nil
}

func timeoutError(timeout time.Duration) *FunctionError {
	return &FunctionError{Type: ErrorTypeTimeout, Message: fmt.Sprintf("Task timed out after %.2f seconds", timeout.Seconds())}
}

// exitError words a crash as Lambda does.
func exitError(requestID, status string) *FunctionError {
	if status == "" || status == "exit status 0" {
		return &FunctionError{Type: ErrorTypeExit, Message: "RequestId: " + requestID + " Error: Runtime exited without providing a reason"}
	}
	return &FunctionError{Type: ErrorTypeExit, Message: "RequestId: " + requestID + " Error: Runtime exited with error: " + status}
}

func deref(r *Result) Result {
	if r == nil {
		return Result{}
	}
	return *r
}
