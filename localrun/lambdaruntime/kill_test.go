package lambdaruntime_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"wsapi/internal/testutil"
	"wsapi/localrun/lambdaruntime"
)

// TestKillBusy: only the instance running an invocation is killed; the
// invocation ends as a crash and the next one runs on a new instance.
func TestKillBusy(t *testing.T) {
	fn := testFunction(t)
	fn.MaxInstances = 2
	p, logs := newPool(t, fn, nil)
	if n := p.KillBusy(); n != 0 {
		t.Errorf("KillBusy on an empty pool = %d, want 0", n)
	}

	type result struct {
		res lambdaruntime.Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		payload, _ := json.Marshal(event{Op: "sleep", MS: 4000})
		res, err := p.Invoke(context.Background(), payload)
		done <- result{res, err}
	}()
	testutil.Eventually(t, 5*time.Second, func() bool { return strings.Contains(logs.String(), "sleeping") },
		"the sleep did not start; logs:\n%s", logs)
	// A second instance, idle when the kill comes: it must survive.
	idle := invokeOK(t, p, event{Op: "echo"})
	if n := p.KillBusy(); n != 1 {
		t.Errorf("KillBusy = %d, want 1 (the sleeping instance only)", n)
	}
	r := <-done
	if r.err != nil || r.res.Error == nil || r.res.Error.Type != lambdaruntime.ErrorTypeExit {
		t.Fatalf("killed invocation = %+v, %v; want a %s", r.res, r.err, lambdaruntime.ErrorTypeExit)
	}
	if again := invokeOK(t, p, event{Op: "echo"}); again.PID != idle.PID {
		t.Errorf("echo after the kill ran on pid %d, want the idle instance's %d", again.PID, idle.PID)
	}
}
