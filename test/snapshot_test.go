package test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"wsapi/stacks"
)

// snapshotPath holds the default stack's template as reviewed. Regenerate
// it with: UPDATE_SNAPSHOTS=1 go test ./test/...
var snapshotPath = filepath.Join("testdata", "WebSocketApi.template.json")

func TestSnapshot(t *testing.T) {
	got := defaultStack(t).raw
	if os.Getenv("UPDATE_SNAPSHOTS") == "1" {
		if err := os.WriteFile(snapshotPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", snapshotPath)
		return
	}
	want, err := os.ReadFile(snapshotPath)
	if err != nil {
		t.Fatalf("%v (create it with UPDATE_SNAPSHOTS=1 go test ./test/...)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the synthesized template differs from %s (-snapshot +synthesized):\n%s\n"+
			"If the change is intended, run UPDATE_SNAPSHOTS=1 go test ./test/... and commit the file.",
			snapshotPath, cmp.Diff(strings.Split(string(want), "\n"), strings.Split(string(got), "\n")))
	}
}

// TestSynthIsDeterministic: a second synth of the same tree, in a new app,
// gives the same bytes, asset hashes included.
func TestSynthIsDeterministic(t *testing.T) {
	first := defaultStack(t).raw
	second := synth(stacks.WebSocketStackProps{}).raw
	if !bytes.Equal(first, second) {
		t.Errorf("two synths differ:\n%s", cmp.Diff(strings.Split(string(first), "\n"), strings.Split(string(second), "\n")))
	}
}
