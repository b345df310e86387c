//go:build unix

package lambdaruntime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"wsapi/internal/testutil"
	"wsapi/localrun/lambdaruntime"
)

// bootstrap is the test function, built once per test binary by TestMain.
var bootstrap string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lambdaruntime-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bootstrap = filepath.Join(dir, "bootstrap")
	// testdata is outside ./..., but builds by explicit path.
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bootstrap, "./testdata/testfn")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build testfn: %v\n%s", err, out)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// event and reply mirror testdata/testfn.
type event struct {
	Op      string   `json:"op"`
	Message string   `json:"message,omitempty"`
	MS      int      `json:"ms,omitempty"`
	Code    int      `json:"code,omitempty"`
	Keys    []string `json:"keys,omitempty"`
	Size    int      `json:"size,omitempty"`
	Stdout  string   `json:"stdout,omitempty"`
	Stderr  string   `json:"stderr,omitempty"`
}

type reply struct {
	Op         string            `json:"op"`
	Message    string            `json:"message"`
	PID        int               `json:"pid"`
	Start      int64             `json:"start"`
	End        int64             `json:"end"`
	Env        map[string]string `json:"env"`
	RequestID  string            `json:"requestId"`
	ARN        string            `json:"arn"`
	DeadlineMS int64             `json:"deadlineMs"`
	Statuses   map[string]int    `json:"statuses"`
}

func testFunction(t *testing.T) lambdaruntime.Function {
	t.Helper()
	return lambdaruntime.Function{
		Name:         "testfn",
		Executable:   bootstrap,
		Dir:          t.TempDir(),
		Timeout:      5 * time.Second,
		MaxInstances: 1,
	}
}

// newPool starts a pool that the test closes when it ends.
func newPool(t *testing.T, fn lambdaruntime.Function, opts *lambdaruntime.Options) (*lambdaruntime.Pool, *testutil.LockedBuffer) {
	t.Helper()
	logs := &testutil.LockedBuffer{}
	p, err := lambdaruntime.NewPool(fn, logs, opts)
	if err != nil {
		t.Fatalf("NewPool: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p, logs
}

func invoke(t *testing.T, p *lambdaruntime.Pool, ev event) lambdaruntime.Result {
	t.Helper()
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	res, err := p.Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("Invoke(%s): %v", ev.Op, err)
	}
	return res
}

// invokeOK invokes and fails the test unless the function succeeded.
func invokeOK(t *testing.T, p *lambdaruntime.Pool, ev event) reply {
	t.Helper()
	res := invoke(t, p, ev)
	if res.Error != nil {
		t.Fatalf("Invoke(%s): function error %v", ev.Op, res.Error)
	}
	var r reply
	if err := json.Unmarshal(res.Payload, &r); err != nil {
		t.Fatalf("Invoke(%s): payload %q: %v", ev.Op, res.Payload, err)
	}
	return r
}

// bootstrapPIDs lists the running processes of the test function, as the
// kernel sees them (Linux /proc); nil elsewhere.
func bootstrapPIDs(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err == nil && strings.TrimSuffix(exe, " (deleted)") == bootstrap {
			pids = append(pids, pid)
		}
	}
	return pids
}

// running reports whether pid is a live process (not reaped).
func running(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

func TestInvoke(t *testing.T) {
	p, _ := newPool(t, testFunction(t), nil)
	tests := []struct {
		name     string
		ev       event
		want     *lambdaruntime.FunctionError // nil: success echoing the message
		replaced bool                         // the instance is gone afterwards
	}{
		{name: "echo", ev: event{Op: "echo", Message: "hello"}},
		{
			name: "error",
			ev:   event{Op: "error", Message: "table missing"},
			want: &lambdaruntime.FunctionError{Type: "errorString", Message: "table missing"},
		},
		{
			name: "typed error",
			ev:   event{Op: "typed", Message: "no action"},
			want: &lambdaruntime.FunctionError{Type: "badInput", Message: "bad input: no action"},
		},
		{
			name:     "panic",
			ev:       event{Op: "panic", Message: "boom"},
			want:     &lambdaruntime.FunctionError{Type: "string", Message: "boom"},
			replaced: true,
		},
		{
			name:     "exit",
			ev:       event{Op: "exit", Code: 3},
			want:     &lambdaruntime.FunctionError{Type: lambdaruntime.ErrorTypeExit, Message: "Error: Runtime exited with error: exit status 3"},
			replaced: true,
		},
		{
			name:     "response too large",
			ev:       event{Op: "big", Size: 7 << 20},
			want:     &lambdaruntime.FunctionError{Type: lambdaruntime.ErrorTypeResponseTooLarge, Message: "Response payload size exceeded maximum allowed payload size (6291556 bytes)."},
			replaced: true, // aws-lambda-go exits when its response is refused
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := invokeOK(t, p, event{Op: "echo"}).PID
			res := invoke(t, p, tt.ev)
			if res.RequestID == "" {
				t.Error("no request ID")
			}
			if tt.want == nil {
				var r reply
				if err := json.Unmarshal(res.Payload, &r); err != nil || res.Error != nil {
					t.Fatalf("got payload %q, error %v; want success", res.Payload, res.Error)
				}
				if r.Message != tt.ev.Message {
					t.Errorf("message = %q, want %q", r.Message, tt.ev.Message)
				}
			} else {
				if res.Error == nil {
					t.Fatalf("got success %q, want error %v", res.Payload, tt.want)
				}
				// Lambda's exit message starts with the request ID.
				if res.Error.Type != tt.want.Type || !strings.HasSuffix(res.Error.Message, tt.want.Message) {
					t.Errorf("error = %+v, want %+v", *res.Error, *tt.want)
				}
				if res.Payload != nil {
					t.Errorf("payload %q alongside an error", res.Payload)
				}
			}
			// The pool recovers: the next invoke works, on a new process if
			// the old one died.
			after := invokeOK(t, p, event{Op: "echo"}).PID
			if tt.replaced == (after == before) {
				t.Errorf("pid before %d, after %d; want a new process: %v", before, after, tt.replaced)
			}
			if tt.replaced && running(before) {
				t.Errorf("process %d still runs", before)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	fn := testFunction(t)
	fn.Timeout = 300 * time.Millisecond
	diagnostics := &testutil.LockedBuffer{}
	p, _ := newPool(t, fn, &lambdaruntime.Options{Logger: slog.New(slog.NewTextHandler(diagnostics, nil))})

	first := invokeOK(t, p, event{Op: "echo"}).PID
	start := time.Now()
	res := invoke(t, p, event{Op: "sleep", MS: 5000})
	elapsed := time.Since(start)
	want := lambdaruntime.FunctionError{Type: "Sandbox.Timedout", Message: "Task timed out after 0.30 seconds"}
	if res.Error == nil || *res.Error != want {
		t.Fatalf("error = %v, want %v", res.Error, want)
	}
	// Bounds that prove enforcement without timing the machine: not before
	// the timeout, and not only when the 5 s sleep ended.
	if elapsed < 300*time.Millisecond || elapsed >= 5*time.Second {
		t.Errorf("timed out after %v, want between 300ms and the 5 s sleep", elapsed)
	}
	if running(first) {
		t.Errorf("timed-out process %d still runs", first)
	}
	if second := invokeOK(t, p, event{Op: "echo"}).PID; second == first {
		t.Errorf("invoke after the timeout ran on the killed process %d", first)
	}
	if !strings.Contains(diagnostics.String(), "invocation timed out") {
		t.Errorf("no diagnostic about the timeout:\n%s", diagnostics)
	}
}

func TestInitFailure(t *testing.T) {
	tests := []struct {
		mode    string
		initMax time.Duration
		want    lambdaruntime.FunctionError
	}{
		{mode: "exit", want: lambdaruntime.FunctionError{Type: "Runtime.ExitError", Message: "Error: Runtime exited with error: exit status 2"}},
		{mode: "initerror", want: lambdaruntime.FunctionError{Type: "Test.InitFailed", Message: "config missing"}},
		{mode: "hang", initMax: 200 * time.Millisecond, want: lambdaruntime.FunctionError{Type: "Sandbox.Timedout", Message: "Init timed out after 0.20 seconds"}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			fn := testFunction(t)
			fn.Env = map[string]string{"TESTFN_INIT": tt.mode}
			p, logs := newPool(t, fn, &lambdaruntime.Options{InitTimeout: tt.initMax})
			// Each invoke tries a new instance: nothing stays broken.
			for i := range 2 {
				res := invoke(t, p, event{Op: "echo"})
				if res.Error == nil || res.Error.Type != tt.want.Type || !strings.HasSuffix(res.Error.Message, tt.want.Message) {
					t.Fatalf("invoke %d: error = %v, want %v", i, res.Error, tt.want)
				}
				if tt.want.Type == lambdaruntime.ErrorTypeExit && !strings.HasPrefix(res.Error.Message, "RequestId: "+res.RequestID+" ") {
					t.Errorf("message %q does not start with request ID %s", res.Error.Message, res.RequestID)
				}
			}
			if len(bootstrapPIDs(t)) != 0 {
				t.Errorf("failed instances still run: %v", bootstrapPIDs(t))
			}
			if tt.mode == "exit" && !strings.Contains(logs.String(), "[testfn#2] init: giving up\n") {
				t.Errorf("logs lack the second instance's stderr:\n%s", logs)
			}
		})
	}
}

func TestEnvironment(t *testing.T) {
	// Variables of the developer's shell must not reach the function.
	t.Setenv("AWS_SECRET_ACCESS_KEY", "hostsecret")
	t.Setenv("AWS_PROFILE", "hostprofile")
	fn := testFunction(t)
	fn.Name = "connect"
	fn.MemoryMB = 256
	fn.LogFormat = "JSON"
	fn.LogLevel = "INFO"
	fn.Env = map[string]string{
		"TABLE_NAME":               "connections",
		"AWS_REGION":               "eu-west-1",
		"AWS_LAMBDA_FUNCTION_NAME": "spoofed", // reserved: Lambda's value wins
	}
	p, _ := newPool(t, fn, nil)

	start := time.Now()
	keys := []string{
		"TABLE_NAME", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_NAME",
		"AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_LOG_GROUP_NAME",
		"AWS_LAMBDA_LOG_STREAM_NAME", "AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL", "AWS_LAMBDA_RUNTIME_API",
		"_HANDLER", "LAMBDA_TASK_ROOT", "TZ", "PATH", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "HOME",
	}
	res := invoke(t, p, event{Op: "env", Keys: keys})
	var r reply
	if err := json.Unmarshal(res.Payload, &r); err != nil || res.Error != nil {
		t.Fatalf("payload %q, error %v", res.Payload, res.Error)
	}
	want := map[string]string{
		"TABLE_NAME":                      "connections",
		"AWS_REGION":                      "eu-west-1",
		"AWS_DEFAULT_REGION":              "eu-west-1",
		"AWS_LAMBDA_FUNCTION_NAME":        "connect",
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/connect",
		"AWS_LAMBDA_LOG_FORMAT":           "JSON",
		"AWS_LAMBDA_LOG_LEVEL":            "INFO",
		"_HANDLER":                        "bootstrap",
		"LAMBDA_TASK_ROOT":                fn.Dir,
		"TZ":                              ":UTC",
		"PATH":                            "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
	}
	for k, v := range want {
		if got, ok := r.Env[k]; !ok || got != v {
			t.Errorf("%s = %q (set: %v), want %q", k, got, ok, v)
		}
	}
	for _, k := range []string{"AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "HOME"} {
		if v, ok := r.Env[k]; ok {
			t.Errorf("host variable %s leaked into the function: %q", k, v)
		}
	}
	if s := r.Env["AWS_LAMBDA_LOG_STREAM_NAME"]; !strings.Contains(s, "/[$LATEST]") {
		t.Errorf("log stream name %q", s)
	}
	if api := r.Env["AWS_LAMBDA_RUNTIME_API"]; !strings.HasPrefix(api, "127.0.0.1:") {
		t.Errorf("AWS_LAMBDA_RUNTIME_API = %q, want a loopback address", api)
	}
	// What the Runtime API headers told aws-lambda-go.
	if r.ARN != "arn:aws:lambda:eu-west-1:000000000000:function:connect" {
		t.Errorf("invoked function ARN = %q", r.ARN)
	}
	if r.RequestID != res.RequestID {
		t.Errorf("request ID seen by the function %q, returned %q", r.RequestID, res.RequestID)
	}
	if d := time.UnixMilli(r.DeadlineMS).Sub(start); d < 4*time.Second || d > 6*time.Second {
		t.Errorf("deadline %v after the invoke, want about the 5s timeout", d)
	}
}

func TestRuntimeAPIRefusals(t *testing.T) {
	p, _ := newPool(t, testFunction(t), nil)
	r := invokeOK(t, p, event{Op: "poke"})
	want := map[string]int{"wrongID": 400, "lateInitError": 403, "unknownPath": 404}
	for k, v := range want {
		if r.Statuses[k] != v {
			t.Errorf("%s: status %d, want %d", k, r.Statuses[k], v)
		}
	}
	// The refusals broke nothing.
	if again := invokeOK(t, p, event{Op: "echo"}); again.PID != r.PID {
		t.Errorf("instance replaced after refused requests: pid %d then %d", r.PID, again.PID)
	}
}

func TestConcurrency(t *testing.T) {
	fn := testFunction(t)
	fn.MaxInstances = 3
	p, _ := newPool(t, fn, nil)

	// Watch the kernel's process table while the invocations run.
	stop := make(chan struct{})
	peak := make(chan int)
	go func() {
		most := 0
		for {
			most = max(most, len(bootstrapPIDs(t)))
			select {
			case <-stop:
				peak <- most
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()

	const calls, sleep = 6, 300 * time.Millisecond
	replies := make([]reply, calls)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, calls)
	for i := range calls {
		wg.Go(func() {
			payload, _ := json.Marshal(event{Op: "sleep", MS: int(sleep / time.Millisecond)})
			res, err := p.Invoke(t.Context(), payload)
			switch {
			case err != nil:
				errs[i] = err
			case res.Error != nil:
				errs[i] = res.Error
			default:
				errs[i] = json.Unmarshal(res.Payload, &replies[i])
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	close(stop)
	most := <-peak

	pids := map[int]bool{}
	for _, r := range replies {
		pids[r.PID] = true
	}
	if len(pids) > 3 {
		t.Errorf("%d processes served the invocations, want at most 3", len(pids))
	}
	if most > 3 {
		t.Errorf("%d processes ran at once, want at most 3", most)
	}
	// Three at a time: at least two rounds. That they ran side by side is
	// shown by the overlap below, not by the clock.
	if elapsed < 2*sleep {
		t.Errorf("6 invocations of %v on 3 instances took only %v", sleep, elapsed)
	}
	if overlap := maxOverlap(replies); overlap != 3 {
		t.Errorf("at most %d invocations overlapped, want 3", overlap)
	}
}

// maxOverlap is the largest number of sleeps that ran at the same time.
func maxOverlap(replies []reply) int {
	type edge struct {
		at    int64
		delta int
	}
	var edges []edge
	for _, r := range replies {
		edges = append(edges, edge{r.Start, 1}, edge{r.End, -1})
	}
	slices.SortFunc(edges, func(a, b edge) int {
		if a.at != b.at {
			return int(a.at - b.at)
		}
		return a.delta - b.delta // an end before a start at the same instant
	})
	n, most := 0, 0
	for _, e := range edges {
		n += e.delta
		most = max(most, n)
	}
	return most
}

func TestWaitRespectsContext(t *testing.T) {
	p, logs := newPool(t, testFunction(t), nil) // one instance
	busy := make(chan struct{})
	go func() {
		defer close(busy)
		payload, _ := json.Marshal(event{Op: "sleep", MS: 500})
		_, _ = p.Invoke(context.Background(), payload)
	}()
	// The sleep has taken the only instance once the function says so.
	testutil.Eventually(t, 5*time.Second, func() bool { return strings.Contains(logs.String(), "sleeping") },
		"the sleep did not start; logs:\n%s", logs)

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	res, err := p.Invoke(ctx, []byte(`{"op":"echo"}`))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Invoke while busy = %+v, %v; want context.DeadlineExceeded", res, err)
	}
	<-busy
	invokeOK(t, p, event{Op: "echo"})
}

func TestLogs(t *testing.T) {
	fn := testFunction(t)
	fn.Name = "connect"
	p, logs := newPool(t, fn, nil)
	invokeOK(t, p, event{Op: "print", Stdout: "one\ntwo\n", Stderr: "warn 1\nno newline"})
	if err := p.Close(); err != nil { // flushes the partial line
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(logs.String(), "\n"), "\n")
	for _, line := range got {
		if !strings.HasPrefix(line, "[connect#1] ") {
			t.Errorf("line without prefix: %q", line)
		}
	}
	for _, want := range []string{"[connect#1] one", "[connect#1] two", "[connect#1] warn 1", "[connect#1] no newline"} {
		if !slices.Contains(got, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

func TestClose(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	fn := testFunction(t)
	fn.MaxInstances = 3
	logs := &testutil.LockedBuffer{}
	p, err := lambdaruntime.NewPool(fn, logs, &lambdaruntime.Options{StopGrace: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// Two invocations are still running when Close comes.
	inFlight := make(chan error, 2)
	for range 2 {
		go func() {
			payload, _ := json.Marshal(event{Op: "sleep", MS: 10_000})
			_, err := p.Invoke(context.Background(), payload)
			inFlight <- err
		}()
	}
	testutil.Eventually(t, 5*time.Second, func() bool { return strings.Count(logs.String(), "sleeping") >= 2 },
		"the sleeps did not start; logs:\n%s", logs)
	pids := bootstrapPIDs(t)
	if len(pids) != 2 {
		t.Errorf("processes before Close: %v, want 2", pids)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for range 2 {
		if err := <-inFlight; !errors.Is(err, lambdaruntime.ErrClosed) {
			t.Errorf("in-flight Invoke = %v, want ErrClosed", err)
		}
	}
	if left := bootstrapPIDs(t); len(left) != 0 {
		t.Errorf("processes left after Close: %v", left)
	}
	for _, pid := range pids {
		if running(pid) {
			t.Errorf("process %d still runs after Close", pid)
		}
	}
	if _, err := p.Invoke(t.Context(), []byte(`{"op":"echo"}`)); !errors.Is(err, lambdaruntime.ErrClosed) {
		t.Errorf("Invoke after Close = %v, want ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// Connection goroutines of the servers end just after Close.
	if !testutil.Poll(2*time.Second, func() bool { return runtime.NumGoroutine() <= goroutines }) {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), goroutines, buf[:runtime.Stack(buf, true)])
	}
}

func TestWarmReuse(t *testing.T) {
	fn := testFunction(t)
	fn.MaxInstances = 3
	p, logs := newPool(t, fn, nil)
	// Back-to-back invocations reuse the warm instance instead of starting
	// the others.
	first := invoke(t, p, event{Op: "echo"})
	if first.InitDuration == 0 {
		t.Error("first invocation reports no init duration")
	}
	pid := invokeOK(t, p, event{Op: "echo"}).PID
	for i := range 20 {
		res := invoke(t, p, event{Op: "print", Stdout: "call\n"})
		if res.Error != nil || res.InitDuration != 0 {
			t.Fatalf("call %d: error %v, init %v", i, res.Error, res.InitDuration)
		}
	}
	if got := invokeOK(t, p, event{Op: "echo"}).PID; got != pid {
		t.Errorf("pid %d, then %d", pid, got)
	}
	if err := p.Close(); err != nil { // output is copied asynchronously
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "[testfn#1] call\n"); n != 20 {
		t.Errorf("instance 1 printed %d of 20 lines:\n%s", n, logs)
	}
}

func TestNewPoolRejects(t *testing.T) {
	notExec := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(*lambdaruntime.Function)
		want   string
	}{
		{"empty name", func(f *lambdaruntime.Function) { f.Name = "" }, "name"},
		{"bad name", func(f *lambdaruntime.Function) { f.Name = "a/b" }, "name"},
		{"relative executable", func(f *lambdaruntime.Function) { f.Executable = "bootstrap" }, "absolute"},
		{"missing executable", func(f *lambdaruntime.Function) { f.Executable = "/nonexistent/bootstrap" }, "executable"},
		{"not executable", func(f *lambdaruntime.Function) { f.Executable = notExec }, "not an executable"},
		{"missing dir", func(f *lambdaruntime.Function) { f.Dir = "/nonexistent" }, "dir"},
		{"negative timeout", func(f *lambdaruntime.Function) { f.Timeout = -time.Second }, "timeout"},
		{"memory", func(f *lambdaruntime.Function) { f.MemoryMB = 64 }, "memory"},
		{"instances", func(f *lambdaruntime.Function) { f.MaxInstances = -1 }, "MaxInstances"},
		{"log format", func(f *lambdaruntime.Function) { f.LogFormat = "json" }, "log format"},
		{"log level", func(f *lambdaruntime.Function) { f.LogLevel = "VERBOSE" }, "log level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := testFunction(t)
			tt.change(&fn)
			if _, err := lambdaruntime.NewPool(fn, nil, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewPool error = %v, want one about %q", err, tt.want)
			}
		})
	}
}

func TestInvokeRejectsLargePayload(t *testing.T) {
	p, _ := newPool(t, testFunction(t), nil)
	if _, err := p.Invoke(t.Context(), make([]byte, 6<<20+1)); err == nil {
		t.Error("Invoke accepted a payload over 6 MB")
	}
	if pids := bootstrapPIDs(t); len(pids) != 0 {
		t.Errorf("a refused invocation started processes %v", pids)
	}
}

func BenchmarkInvokeWarm(b *testing.B) {
	fn := lambdaruntime.Function{Name: "bench", Executable: bootstrap, Dir: b.TempDir(), MaxInstances: 1}
	p, err := lambdaruntime.NewPool(fn, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	payload := []byte(`{"op":"echo","message":"hello"}`)
	if _, err := p.Invoke(b.Context(), payload); err != nil { // the cold start
		b.Fatal(err)
	}
	for b.Loop() {
		res, err := p.Invoke(b.Context(), payload)
		if err != nil || res.Error != nil {
			b.Fatalf("Invoke: %v, %v", err, res.Error)
		}
	}
}
