package test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"wsapi/stacks"
)

// update rewrites the snapshot instead of comparing against it:
//
//	go test ./test/ -run TestSnapshot -update
var update = flag.Bool("update", false, "rewrite the template snapshot in testdata/ instead of comparing against it")

// snapshotPath holds the default stack's template as reviewed, its asset
// hashes masked (see maskAssetHashes). Regenerate it with `make snapshot`.
var snapshotPath = filepath.Join("testdata", "WebSocketApi.template.json")

const updateHint = "go test ./test/ -run TestSnapshot -update"

func TestSnapshot(t *testing.T) {
	got, err := maskAssetHashes(defaultStack(t).raw)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(snapshotPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", snapshotPath)
		return
	}
	want, err := os.ReadFile(snapshotPath)
	if err != nil {
		t.Fatalf("%v (create it with: %s)", err, updateHint)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the synthesized template differs from %s (-snapshot +synthesized):\n%s\n"+
			"If the change is intended, run `%s` (or make snapshot) and commit the file.",
			snapshotPath, cmp.Diff(strings.Split(string(want), "\n"), strings.Split(string(got), "\n")), updateHint)
	}
}

// TestSynthIsDeterministic: a second synth of the same tree, in a new app,
// gives the same bytes, asset hashes included (the snapshot masks them).
func TestSynthIsDeterministic(t *testing.T) {
	first := defaultStack(t).raw
	second := synth(stacks.WebSocketStackProps{}).raw
	if !bytes.Equal(first, second) {
		t.Errorf("two synths differ:\n%s", cmp.Diff(strings.Split(string(first), "\n"), strings.Split(string(second), "\n")))
	}
}

// assetHash is a CDK asset hash: a SHA-256 in hex, as in a function's
// Code.S3Key "<hash>.zip".
var assetHash = regexp.MustCompile(`\b[0-9a-f]{64}\b`)

// maskAssetHashes replaces every asset hash in a template with a stable
// placeholder: "<asset:LogicalId>" for the code of the resource(s) whose
// S3Key names it (so "S3Key": "<asset:ConnectFunction52BFC429>.zip"), and
// "<asset-hash>" anywhere else. The hashes change with every Go release (the
// functions' binaries do); what the snapshot reviews is the rest. The bytes
// around them are kept as they are.
func maskAssetHashes(raw []byte) ([]byte, error) {
	var doc struct {
		Resources map[string]any
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("mask asset hashes: %w", err)
	}
	owners := map[string][]string{} // hash -> logical ids whose S3Key has it
	for id, r := range doc.Resources {
		walkS3Keys(r, func(key string) {
			for _, h := range assetHash.FindAllString(key, -1) {
				if !slices.Contains(owners[h], id) {
					owners[h] = append(owners[h], id)
				}
			}
		})
	}
	return assetHash.ReplaceAllFunc(raw, func(h []byte) []byte {
		ids := owners[string(h)]
		if len(ids) == 0 {
			return []byte("<asset-hash>")
		}
		slices.Sort(ids)
		return []byte("<asset:" + strings.Join(ids, ",") + ">")
	}), nil
}

// walkS3Keys calls f with every string under an "S3Key" key in v.
func walkS3Keys(v any, f func(string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if s, ok := e.(string); ok && k == "S3Key" {
				f(s)
				continue
			}
			walkS3Keys(e, f)
		}
	case []any:
		for _, e := range v {
			walkS3Keys(e, f)
		}
	}
}

func TestMaskAssetHashes(t *testing.T) {
	h1, h2, h3 := strings.Repeat("a", 64), strings.Repeat("0b", 32), strings.Repeat("c", 64)
	raw := []byte(`{
  "Outputs": {"Other": {"Value": "s3://bucket/` + h3 + `.json"}},
  "Resources": {
    "OneFunctionAAAA": {"Properties": {"Code": {"S3Key": "` + h1 + `.zip"}}},
    "TwoFunctionBBBB": {"Properties": {"Code": {"S3Key": "` + h2 + `.zip"}}},
    "SameCodeCCCC": {"Properties": {"Code": {"S3Key": "` + h2 + `.zip"}}},
    "Policy": {"Properties": {"Resource": "arn:aws:s3:::bucket/` + h1 + `.zip", "Short": "` + h1[:63] + `"}}
  }
}`)
	got, err := maskAssetHashes(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "Outputs": {"Other": {"Value": "s3://bucket/<asset-hash>.json"}},
  "Resources": {
    "OneFunctionAAAA": {"Properties": {"Code": {"S3Key": "<asset:OneFunctionAAAA>.zip"}}},
    "TwoFunctionBBBB": {"Properties": {"Code": {"S3Key": "<asset:SameCodeCCCC,TwoFunctionBBBB>.zip"}}},
    "SameCodeCCCC": {"Properties": {"Code": {"S3Key": "<asset:SameCodeCCCC,TwoFunctionBBBB>.zip"}}},
    "Policy": {"Properties": {"Resource": "arn:aws:s3:::bucket/<asset:OneFunctionAAAA>.zip", "Short": "` + h1[:63] + `"}}
  }
}`
	if diff := cmp.Diff(strings.Split(want, "\n"), strings.Split(string(got), "\n")); diff != "" {
		t.Errorf("masked (-want +got):\n%s", diff)
	}
	if !json.Valid(got) {
		t.Errorf("masked template is not JSON:\n%s", got)
	}
	if _, err := maskAssetHashes([]byte("not json")); err == nil {
		t.Error("maskAssetHashes(not json): no error")
	}
}
