package test

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestLogicalIDsKept compares every variant's logical IDs, resource types
// and output names with the template synthesized before the stack became a
// wrapper around the websocketapi construct (commit 89310c4). A logical ID
// that changed, or a type, would make CloudFormation replace the resource:
// the table and the user pool are retained, so a new one would orphan the
// data. Resources may be added (CloudFormation creates them and leaves the
// others alone: the alarms and the dashboard are such), and the test lists
// them in its log; none may go or change type, and no output may go.
//
// It covers the variants that have a baseline (the three that existed
// then); variants added since have nothing to keep.
func TestLogicalIDsKept(t *testing.T) {
	all := variants(t)
	for _, name := range []string{"default", "external-issuer", "header-identity"} {
		s := all[name]
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "before-construct", name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var before struct {
				Resources map[string]string
				Outputs   []string
			}
			if err := json.Unmarshal(raw, &before); err != nil {
				t.Fatalf("baseline: %v", err)
			}
			if len(before.Resources) == 0 {
				t.Fatal("baseline lists no resources")
			}
			now := map[string]string{}
			for id, r := range s.json["Resources"].(map[string]any) {
				now[id], _ = r.(map[string]any)["Type"].(string)
			}
			for _, id := range slices.Sorted(maps.Keys(before.Resources)) {
				switch got, ok := now[id]; {
				case !ok:
					t.Errorf("resource %s (%s) is gone: CloudFormation would delete it", id, before.Resources[id])
				case got != before.Resources[id]:
					t.Errorf("resource %s is %s, was %s: CloudFormation would replace it", id, got, before.Resources[id])
				}
			}
			var added []string
			for _, id := range slices.Sorted(maps.Keys(now)) {
				if _, ok := before.Resources[id]; !ok {
					added = append(added, id+" ("+now[id]+")")
				}
			}
			if len(added) > 0 {
				t.Logf("%d resources added (created on update, nothing replaced): %v", len(added), added)
			}
			outputs := s.json["Outputs"].(map[string]any)
			for _, id := range before.Outputs {
				if _, ok := outputs[id]; !ok {
					t.Errorf("output %s is gone", id)
				}
			}
			if len(outputs) < len(before.Outputs) {
				t.Errorf("%d outputs, were %d", len(outputs), len(before.Outputs))
			}
		})
	}
}
