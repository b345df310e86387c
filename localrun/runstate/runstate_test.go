package runstate

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
)

func testRun(port int) Run {
	return Run{
		Port:      port,
		URL:       "ws://127.0.0.1:" + strconv.Itoa(port) + "/prod",
		IssuerURL: "https://127.0.0.1:" + strconv.Itoa(port+1),
		Audience:  "wsapi-local-client",
		PID:       os.Getpid(),
	}
}

func register(t *testing.T, dir string, port int) *Registration {
	t.Helper()
	reg, err := Register(dir, testRun(port))
	if err != nil {
		t.Fatalf("Register(%d): %v", port, err)
	}
	t.Cleanup(func() { _ = reg.Close() })
	return reg
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestRegisterAndClose: a registered run is found alive, and after Close
// it has left nothing behind.
func TestRegisterAndClose(t *testing.T) {
	dir := t.TempDir()
	reg := register(t, dir, 3001)
	st, err := Find(dir, 3001)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Alive || st.Run.IssuerURL != testRun(3001).IssuerURL {
		t.Errorf("Find = %+v, want the live run", st)
	}
	if err := reg.Close(); err != nil {
		t.Fatal(err)
	}
	if err := reg.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	entries, err := os.ReadDir(filepath.Join(dir, RunsDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind: %s", e.Name())
	}
	if _, err := Find(dir, 3001); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Find after Close: %v, want fs.ErrNotExist", err)
	}
}

// TestTwoRuns: two runs share a state directory; when one stops, the other
// is still found, with its own issuer.
func TestTwoRuns(t *testing.T) {
	dir := t.TempDir()
	register(t, dir, 3001)
	second := register(t, dir, 4001)
	runs, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || !runs[0].Alive || !runs[1].Alive || runs[0].Port != 3001 || runs[1].Port != 4001 {
		t.Fatalf("List = %+v, want two live runs", runs)
	}
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
	runs, err = List(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || !runs[0].Alive || runs[0].IssuerURL != testRun(3001).IssuerURL {
		t.Fatalf("List after the second stopped = %+v, want the first only", runs)
	}
}

// TestRegisterBusy: a second live run cannot take the same port's record
// (same port on another loopback address, same state directory).
func TestRegisterBusy(t *testing.T) {
	dir := t.TempDir()
	register(t, dir, 3001)
	if _, err := Register(dir, testRun(3001)); !errors.Is(err, ErrBusy) {
		t.Errorf("second Register: %v, want ErrBusy", err)
	}
	if _, err := Register(dir, testRun(0)); err == nil {
		t.Error("Register with port 0 succeeded")
	}
}

// TestFindRecords covers records that a live run did not write just now:
// each fixture in testdata/runs is copied in as runs/3001.json.
func TestFindRecords(t *testing.T) {
	for _, tc := range []struct {
		name, fixture string
		lockFile      bool // a lock file nobody holds: the run crashed
		wantErr       bool
		wantStale     string
		wantRemoved   bool
	}{
		{name: "crashed run", fixture: "3001.json", lockFile: true, wantStale: "its process is gone", wantRemoved: true},
		{name: "record without lock", fixture: "3001.json", wantStale: "its lock file is missing"},
		{name: "corrupt record", fixture: "corrupt.json", lockFile: true, wantErr: true},
		{name: "record of another port", fixture: "other-port.json", lockFile: true, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, RunsDir), 0o700); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join("testdata", "runs", tc.fixture))
			if err != nil {
				t.Fatal(err)
			}
			info := filepath.Join(dir, RunsDir, "3001.json")
			if err := os.WriteFile(info, b, 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.lockFile {
				if err := os.WriteFile(filepath.Join(dir, RunsDir, "3001.lock"), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			st, err := Find(dir, 3001)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Find = %+v, want an error", st)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.Alive || st.Stale != tc.wantStale {
				t.Errorf("Find = alive %v, stale %q; want dead, %q", st.Alive, st.Stale, tc.wantStale)
			}
			if exists(info) == tc.wantRemoved {
				t.Errorf("record exists: %v, want %v", exists(info), !tc.wantRemoved)
			}
			// A new run on the port replaces the leftovers.
			register(t, dir, 3001)
			if st, err := Find(dir, 3001); err != nil || !st.Alive {
				t.Errorf("Find after a new Register = %+v, %v; want alive", st, err)
			}
		})
	}
}

// TestListIgnoresForeignFiles: only <port>.json names are records.
func TestListIgnoresForeignFiles(t *testing.T) {
	dir := t.TempDir()
	register(t, dir, 3001)
	for _, name := range []string{"notes.txt", "abc.json", "0.json", "-1.json", "03001.json"} {
		if err := os.WriteFile(filepath.Join(dir, RunsDir, name), []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Port != 3001 {
		t.Errorf("List = %+v, want the run on 3001 only", runs)
	}
	if runs, err := List(filepath.Join(dir, "missing")); err != nil || len(runs) != 0 {
		t.Errorf("List of a missing directory = %v, %v; want nothing", runs, err)
	}
}

// TestKilledRunIsStale: a process that registers and is then killed
// (no chance to clean up) leaves a record the next reader sees as dead.
func TestKilledRunIsStale(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no flock on Windows")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperRun$")
	cmd.Env = append(os.Environ(), "RUNSTATE_HELPER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "registered\n" {
		_ = cmd.Process.Kill()
		t.Fatalf("helper said %q, %v", line, err)
	}
	st, err := Find(dir, 3001)
	if err != nil || !st.Alive || st.PID != cmd.Process.Pid {
		t.Errorf("Find while the helper runs = %+v, %v; want alive with its pid", st, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	st, err = Find(dir, 3001)
	if err != nil || st.Alive {
		t.Errorf("Find after the kill = %+v, %v; want dead", st, err)
	}
	if exists(filepath.Join(dir, RunsDir, "3001.json")) {
		t.Error("the killed run's record was not removed")
	}
}

// TestHelperRun is the process TestKilledRunIsStale kills.
func TestHelperRun(t *testing.T) {
	dir := os.Getenv("RUNSTATE_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	run := testRun(3001)
	if _, err := Register(dir, run); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("registered\n")
	time.Sleep(time.Hour) // until killed
}
