package runstate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// RunsDir is the directory, inside a state directory, of the run files.
const RunsDir = "runs"

// Run is what a live `wslocal dev` records for `wslocal token`.
type Run struct {
	Port      int       `json:"port"` // the WebSocket port, also the file's name
	URL       string    `json:"url"`
	IssuerURL string    `json:"issuerUrl"`
	Audience  string    `json:"audience"`
	PID       int       `json:"pid"`
	StartedAt time.Time `json:"startedAt"`
}

// ErrNotAlive is wrapped by the errors about a run that is not running.
var ErrNotAlive = errors.New("no live local run")

// ErrBusy is returned by Register when a live run already holds the port's
// record (another host address, same port, same state directory).
var ErrBusy = errors.New("another live local run holds this record")

func runsDir(stateDir string) string { return filepath.Join(stateDir, RunsDir) }

func infoPath(stateDir string, port int) string {
	return filepath.Join(runsDir(stateDir), strconv.Itoa(port)+".json")
}

func lockPath(stateDir string, port int) string {
	return filepath.Join(runsDir(stateDir), strconv.Itoa(port)+".lock")
}

// Registration is a live run's claim on its record; Close gives it up.
type Registration struct {
	info, lock string
	release    func()
}

// registerAttempts bounds the retries when a reader briefly holds the lock
// to check a stale record, or removed the lock file under us.
const registerAttempts = 50

// Register records run in stateDir and holds its lock until Close. A record
// left by a dead run on the same port is replaced.
func Register(stateDir string, run Run) (*Registration, error) {
	if run.Port <= 0 {
		return nil, fmt.Errorf("register local run: invalid port %d", run.Port)
	}
	// 0700: like the keys next to it, the state is the user's own.
	if err := os.MkdirAll(runsDir(stateDir), 0o700); err != nil {
		return nil, fmt.Errorf("register local run: %w", err)
	}
	lock := lockPath(stateDir, run.Port)
	var release func()
	for attempt := 0; ; attempt++ {
		r, held, err := tryLock(lock, true)
		if err != nil {
			return nil, fmt.Errorf("register local run: %w", err)
		}
		if held {
			release = r
			break
		}
		// A reader checking for staleness holds it for microseconds; a
		// live run holds it for good.
		if attempt == registerAttempts {
			return nil, fmt.Errorf("register local run on port %d in %s: %w; use another --port or --state", run.Port, stateDir, ErrBusy)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		release()
		return nil, fmt.Errorf("register local run: %w", err)
	}
	info := infoPath(stateDir, run.Port)
	if err := writeFileAtomic(info, append(b, '\n')); err != nil {
		release()
		return nil, fmt.Errorf("register local run: %w", err)
	}
	return &Registration{info: info, lock: lock, release: release}, nil
}

// Close removes the run's record, then its lock file, then drops the lock:
// in that order a reader never sees a record whose lock is free while the
// run is still alive. Close is idempotent.
func (r *Registration) Close() error {
	if r == nil || r.release == nil {
		return nil
	}
	err := os.Remove(r.info)
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	if e := os.Remove(r.lock); e != nil && !errors.Is(e, fs.ErrNotExist) {
		err = errors.Join(err, e)
	}
	r.release()
	r.release = nil
	if err != nil {
		return fmt.Errorf("remove local run state: %w", err)
	}
	return nil
}

// Status is a recorded run and whether it is alive.
type Status struct {
	Run
	Alive bool
	// Stale says why a dead run's record was ignored (and removed).
	Stale string
}

// List returns the runs recorded in stateDir, ordered by port. Records of
// dead runs are removed and returned with Alive false. A missing state
// directory holds no runs.
func List(stateDir string) ([]Status, error) {
	entries, err := os.ReadDir(runsDir(stateDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list local runs: %w", err)
	}
	var out []Status
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		port, err := strconv.Atoi(name)
		if err != nil || port <= 0 || strconv.Itoa(port) != name {
			continue // not ours
		}
		st, err := Find(stateDir, port)
		if errors.Is(err, fs.ErrNotExist) {
			continue // gone while we looked
		}
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Port < out[j].Port })
	return out, nil
}

// Find returns the run recorded for port. The error matches fs.ErrNotExist
// when there is no record. A dead run's record is removed and returned with
// Alive false.
func Find(stateDir string, port int) (Status, error) {
	info := infoPath(stateDir, port)
	b, err := os.ReadFile(info)
	if err != nil {
		return Status{}, fmt.Errorf("local run on port %d: %w", port, err)
	}
	var st Status
	if err := json.Unmarshal(b, &st.Run); err != nil {
		return Status{}, fmt.Errorf("local run on port %d: read %s: %w", port, info, err)
	}
	if st.Port != port {
		return Status{}, fmt.Errorf("local run on port %d: %s names port %d", port, info, st.Port)
	}
	release, free, err := tryLock(lockPath(stateDir, port), false)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// A run creates its lock before its record and removes it after,
		// so a record without a lock is a leftover. It is not removed: a
		// run may be registering this very moment.
		st.Stale = "its lock file is missing"
		return st, nil
	case errors.Is(err, errNoLocking):
		st.Alive = true
		return st, nil
	case err != nil:
		return Status{}, fmt.Errorf("local run on port %d: %w", port, err)
	case !free:
		st.Alive = true
		return st, nil
	}
	// We hold the lock, so its process is gone: remove the leftovers, the
	// record first (the order Close uses).
	defer release()
	st.Stale = "its process is gone"
	_ = os.Remove(info)
	_ = os.Remove(lockPath(stateDir, port))
	return st, nil
}

// writeFileAtomic writes data next to path and renames it over path, so a
// reader sees the old record or the new one, never half of one.
func writeFileAtomic(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	if err = f.Chmod(0o600); err != nil {
		return fmt.Errorf("chmod %s: %w", f.Name(), err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", f.Name(), err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("rename %s: %w", f.Name(), err)
	}
	return nil
}
