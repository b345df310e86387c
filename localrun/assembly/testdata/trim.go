//go:build ignore

// trim copies a synthesized cloud assembly into a test fixture: the
// manifest's stack and asset-manifest artifacts (without metadata), the
// template without CDKMetadata and resource Metadata (but for the
// contract.MetadataAuthorizer the local run reads), the asset manifest, and
// each directory asset as a one-line dummy bootstrap (no binaries in
// the repository). Regenerate the fixtures when the stack or the mapping
// templates change:
//
//	npx cdk synth --quiet -o /tmp/asm-cognito
//	npx cdk synth --quiet -o /tmp/asm-oidc -c lambdaArchitecture=x86_64 -c stageName=dev \
//	  -c identitySource=route.request.header.Authorization -c issuer=https://id.example.com -c audience=chat
//	go run ./localrun/assembly/testdata/trim.go /tmp/asm-cognito localrun/assembly/testdata/cognito
//	go run ./localrun/assembly/testdata/trim.go /tmp/asm-oidc localrun/assembly/testdata/oidc
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"wsapi/contract"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: go run trim.go <cdk.out> <fixture dir>")
		os.Exit(2)
	}
	if err := trim(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func trim(src, dst string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	var m map[string]any
	if err := read(filepath.Join(src, "manifest.json"), &m); err != nil {
		return err
	}
	artifacts := map[string]any{}
	var files []string
	for id, a := range m["artifacts"].(map[string]any) {
		art := a.(map[string]any)
		switch art["type"] {
		case "aws:cloudformation:stack":
			files = append(files, art["properties"].(map[string]any)["templateFile"].(string))
		case "cdk:asset-manifest":
			files = append(files, art["properties"].(map[string]any)["file"].(string))
		default:
			continue
		}
		delete(art, "metadata")
		delete(art, "additionalMetadataFile")
		artifacts[id] = art
	}
	m["artifacts"] = artifacts
	if err := write(filepath.Join(dst, "manifest.json"), m); err != nil {
		return err
	}
	for _, f := range files {
		var doc map[string]any
		if err := read(filepath.Join(src, f), &doc); err != nil {
			return err
		}
		if resources, ok := doc["Resources"].(map[string]any); ok {
			for id, r := range resources {
				res := r.(map[string]any)
				if res["Type"] == "AWS::CDK::Metadata" {
					delete(resources, id)
				}
				// Of the Metadata, only what the local run reads is kept.
				if md, ok := res["Metadata"].(map[string]any); ok && md[contract.MetadataAuthorizer] != nil {
					res["Metadata"] = map[string]any{contract.MetadataAuthorizer: md[contract.MetadataAuthorizer]}
				} else {
					delete(res, "Metadata")
				}
			}
		}
		if assets, ok := doc["files"].(map[string]any); ok {
			for _, a := range assets {
				source := a.(map[string]any)["source"].(map[string]any)
				if source["packaging"] != "zip" {
					continue
				}
				dir := filepath.Join(dst, source["path"].(string))
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return err
				}
				dummy := []byte("dummy bootstrap: the real one is built by cdk synth\n")
				if err := os.WriteFile(filepath.Join(dir, "bootstrap"), dummy, 0o644); err != nil {
					return err
				}
			}
		}
		if err := write(filepath.Join(dst, f), doc); err != nil {
			return err
		}
	}
	return nil
}

func read(file string, v any) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

func write(file string, v any) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	enc.SetEscapeHTML(false) // keep the mapping templates readable
	enc.SetIndent("", " ")
	if err := enc.Encode(v); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
