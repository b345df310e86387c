// Package assembly reads a synthesized CDK cloud assembly (cdk.out) and
// models the WebSocket API stack in it, so a local run executes exactly what
// would be deployed: routes, mapping templates, authorizer, functions and
// their environment all come from the template, never from a second copy of
// the configuration.
//
// Load reads manifest.json, the stack's template and its asset manifest,
// which maps each Lambda function's code (Code.S3Key) to the directory CDK
// staged it in. Resources are found by type and followed by reference,
// never by logical ID. Values CloudFormation computes at deploy time stay
// raw; a Resolver evaluates them with the values the local run chooses.
package assembly

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Artifact types of manifest.json.
const (
	artifactStack         = "aws:cloudformation:stack"
	artifactAssetManifest = "cdk:asset-manifest"
	artifactNested        = "cdk:cloud-assembly"
)

type manifest struct {
	Artifacts map[string]artifact `json:"artifacts"`
}

type artifact struct {
	Type         string          `json:"type"`
	Environment  string          `json:"environment"`
	Properties   json.RawMessage `json:"properties"`
	Dependencies []string        `json:"dependencies"`
	DisplayName  string          `json:"displayName"`
}

type stackProperties struct {
	TemplateFile string `json:"templateFile"`
	StackName    string `json:"stackName"`
}

type assetManifestProperties struct {
	File string `json:"file"`
}

// assetManifest is the part of <stack>.assets.json that locates file assets.
type assetManifest struct {
	Files map[string]struct {
		Source struct {
			Path       string   `json:"path"`
			Packaging  string   `json:"packaging"`
			Executable []string `json:"executable"`
		} `json:"source"`
		Destinations map[string]struct {
			ObjectKey string `json:"objectKey"`
		} `json:"destinations"`
	} `json:"files"`
}

// Load reads the cloud assembly in dir, which must hold exactly one stack.
func Load(dir string) (*Assembly, error) {
	return LoadStack(dir, "")
}

// LoadStack reads the stack of the cloud assembly in dir named stack (its
// artifact ID, stack name or display name); "" selects the only stack.
func LoadStack(dir, stack string) (*Assembly, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("cloud assembly %s: %w", dir, err)
	}
	manifestFile := filepath.Join(abs, "manifest.json")
	var m manifest
	if err := readJSON(manifestFile, &m); err != nil {
		return nil, fmt.Errorf("cloud assembly manifest: %w", err)
	}
	id, art, err := selectStack(manifestFile, m, stack)
	if err != nil {
		return nil, err
	}

	a := &Assembly{Dir: abs, Stack: Stack{ArtifactID: id, Name: id}}
	var sp stackProperties
	if err := json.Unmarshal(art.Properties, &sp); err != nil {
		return nil, fmt.Errorf("%s: artifact %s: properties: %w", manifestFile, id, err)
	}
	if sp.TemplateFile == "" {
		return nil, fmt.Errorf("%s: artifact %s: properties.templateFile missing", manifestFile, id)
	}
	if sp.StackName != "" {
		a.Stack.Name = sp.StackName
	}
	a.Stack.TemplateFile = inDir(abs, sp.TemplateFile)
	a.Stack.Account, a.Stack.Region = parseEnvironment(art.Environment)

	assets, err := loadAssets(abs, manifestFile, m, id, art, &a.Stack)
	if err != nil {
		return nil, err
	}
	var t template
	if err := readJSON(a.Stack.TemplateFile, &t); err != nil {
		return nil, fmt.Errorf("stack %s: template: %w", id, err)
	}
	if err := build(&t, assets, a); err != nil {
		return nil, fmt.Errorf("stack %s: template %s:\n%w", id, a.Stack.TemplateFile, err)
	}
	return a, nil
}

// selectStack picks the stack artifact; with several and no name, guessing
// could run the wrong app, so it lists them instead.
func selectStack(manifestFile string, m manifest, name string) (string, artifact, error) {
	var ids, nested []string
	for _, id := range slices.Sorted(maps.Keys(m.Artifacts)) {
		switch m.Artifacts[id].Type {
		case artifactStack:
			ids = append(ids, id)
		case artifactNested:
			nested = append(nested, id)
		}
	}
	if len(ids) == 0 {
		msg := fmt.Sprintf("%s: no artifact of type %s", manifestFile, artifactStack)
		if len(nested) > 0 {
			// Stacks of CDK stages live in nested assemblies.
			msg += fmt.Sprintf(" (nested assemblies %s: load their directory)", strings.Join(nested, ", "))
		}
		return "", artifact{}, fmt.Errorf("%s", msg)
	}
	if name == "" {
		if len(ids) > 1 {
			return "", artifact{}, fmt.Errorf("%s: %d stacks (%s): name the one to run", manifestFile, len(ids), strings.Join(ids, ", "))
		}
		return ids[0], m.Artifacts[ids[0]], nil
	}
	for _, id := range ids {
		art := m.Artifacts[id]
		var sp stackProperties
		_ = json.Unmarshal(art.Properties, &sp) // a bad one fails when loaded
		if id == name || sp.StackName == name || art.DisplayName == name {
			return id, art, nil
		}
	}
	return "", artifact{}, fmt.Errorf("%s: no stack named %q (stacks: %s)", manifestFile, name, strings.Join(ids, ", "))
}

// loadAssets indexes the file assets of the stack's asset manifests (its
// dependencies of type cdk:asset-manifest) by S3 object key.
func loadAssets(dir, manifestFile string, m manifest, stackID string, stack artifact, s *Stack) (map[string]asset, error) {
	assets := make(map[string]asset)
	for _, dep := range stack.Dependencies {
		art, ok := m.Artifacts[dep]
		if !ok {
			return nil, fmt.Errorf("%s: artifact %s: dependency %s: no such artifact", manifestFile, stackID, dep)
		}
		if art.Type != artifactAssetManifest {
			continue
		}
		var p assetManifestProperties
		if err := json.Unmarshal(art.Properties, &p); err != nil || p.File == "" {
			return nil, fmt.Errorf("%s: artifact %s: properties.file missing", manifestFile, dep)
		}
		file := inDir(dir, p.File)
		if s.AssetManifestFile == "" {
			s.AssetManifestFile = file
		}
		var am assetManifest
		if err := readJSON(file, &am); err != nil {
			return nil, fmt.Errorf("stack %s: asset manifest: %w", stackID, err)
		}
		for id, f := range am.Files {
			src := f.Source.Path
			if src == "" {
				// Built by a command (source.executable): nothing staged.
				continue
			}
			for _, d := range f.Destinations {
				assets[d.ObjectKey] = asset{id: id, path: inDir(dir, src), packaging: f.Source.Packaging, manifest: file}
			}
		}
	}
	return assets, nil
}

// readJSON decodes a JSON file keeping numbers as json.Number, so raw values
// print as written.
func readJSON(file string, v any) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

// inDir makes a manifest's path absolute; CDK writes them relative to the
// assembly directory.
func inDir(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, filepath.FromSlash(p))
}

// parseEnvironment reads aws://<account>/<region>; CDK writes unknown-account
// and unknown-region for an environment-agnostic stack.
func parseEnvironment(env string) (account, region string) {
	rest, ok := strings.CutPrefix(env, "aws://")
	if !ok {
		return "", ""
	}
	account, region, _ = strings.Cut(rest, "/")
	if account == "unknown-account" {
		account = ""
	}
	if region == "unknown-region" {
		region = ""
	}
	return account, region
}

// PseudoParameters are pseudo parameter values for a Resolver. Region and
// account default to the stack's environment; those still unknown are left
// out, so a Ref to them fails rather than inventing a value.
func (a *Assembly) PseudoParameters(region, account string) map[string]string {
	if region == "" {
		region = a.Stack.Region
	}
	if account == "" {
		account = a.Stack.Account
	}
	partition, suffix := "aws", "amazonaws.com"
	switch {
	case strings.HasPrefix(region, "cn-"):
		partition, suffix = "aws-cn", "amazonaws.com.cn"
	case strings.HasPrefix(region, "us-gov-"):
		partition = "aws-us-gov"
	}
	p := map[string]string{
		"AWS::Partition": partition,
		"AWS::URLSuffix": suffix,
		"AWS::StackName": a.Stack.Name,
	}
	if region != "" {
		p["AWS::Region"] = region
	}
	if account != "" {
		p["AWS::AccountId"] = account
	}
	return p
}
