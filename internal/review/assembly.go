package review

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Assembly is what the report reads from one cloud assembly (a cdk.out
// directory): its stacks, by artifact id.
type Assembly struct {
	Dir    string
	Stacks map[string]*Stack
}

// Stack is one aws:cloudformation:stack artifact.
type Stack struct {
	ID           string
	TemplateFile string // absolute path
	Template     Template
	// LogicalPaths maps each logical ID to its construct path
	// ("/WebSocketApi/Default/Connections/Resource").
	LogicalPaths map[string]string
	// Annotations are the unsuppressed findings and other messages: the
	// aws:cdk:error, aws:cdk:warning and aws:cdk:info metadata entries.
	Annotations []Annotation
	// NagRows are the rows of the cdk-nag AwsSolutions report; nil when the
	// assembly has none.
	NagRows []NagRow
}

// Template is the part of a CloudFormation template the report reads
// itself; the rest goes to the diff engine as the file.
type Template struct {
	Resources map[string]Resource
}

// Resource is one resource of a template.
type Resource struct {
	Type       string
	Properties map[string]json.RawMessage
}

// Annotation is one error, warning or info message attached to a construct.
type Annotation struct {
	Level string // error, warning or info
	Path  string // construct path
	Data  string
}

// NagRow is one row of AwsSolutions-<stack>-NagReport.csv.
type NagRow struct {
	RuleID     string
	ResourceID string // construct path without the leading slash
	Compliance string // Compliant, Non-Compliant, Suppressed, UNKNOWN
	Reason     string // the suppression's reason, or N/A
	Level      string // Error or Warning
	Info       string
}

type manifest struct {
	Artifacts map[string]struct {
		Type       string
		Properties struct {
			TemplateFile string
		}
		Metadata               map[string][]metadataEntry
		AdditionalMetadataFile string
	}
}

type metadataEntry struct {
	Type string
	Data json.RawMessage
}

// LoadAssembly reads manifest.json and each stack's template, metadata and
// cdk-nag report.
func LoadAssembly(dir string) (*Assembly, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("read the cloud assembly in %s: %w", dir, err)
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("parse %s/manifest.json: %w", dir, err)
	}
	a := &Assembly{Dir: dir, Stacks: map[string]*Stack{}}
	for id, art := range m.Artifacts {
		if art.Type != "aws:cloudformation:stack" {
			continue
		}
		s := &Stack{ID: id, TemplateFile: filepath.Join(dir, art.Properties.TemplateFile), LogicalPaths: map[string]string{}}
		if err := readJSON(s.TemplateFile, &s.Template); err != nil {
			return nil, err
		}
		metadata := art.Metadata
		if art.AdditionalMetadataFile != "" {
			if err := readJSON(filepath.Join(dir, art.AdditionalMetadataFile), &metadata); err != nil {
				return nil, err
			}
		}
		s.readMetadata(metadata)
		if s.NagRows, err = readNagReport(dir, id); err != nil {
			return nil, err
		}
		a.Stacks[id] = s
	}
	if len(a.Stacks) == 0 {
		return nil, fmt.Errorf("the cloud assembly in %s has no stack", dir)
	}
	return a, nil
}

func readJSON(file string, v any) error {
	raw, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("parse %s: %w", file, err)
	}
	return nil
}

func (s *Stack) readMetadata(metadata map[string][]metadataEntry) {
	paths := make([]string, 0, len(metadata))
	for p := range metadata {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		for _, e := range metadata[p] {
			var data string
			// Other entries (creation stacks) are not strings; none is needed.
			if json.Unmarshal(e.Data, &data) != nil {
				continue
			}
			switch e.Type {
			case "aws:cdk:logicalId":
				s.LogicalPaths[data] = p
			case "aws:cdk:error", "aws:cdk:warning", "aws:cdk:info":
				s.Annotations = append(s.Annotations, Annotation{Level: strings.TrimPrefix(e.Type, "aws:cdk:"), Path: p, Data: data})
			}
		}
	}
}

// readNagReport reads the AwsSolutions pack's CSV report of one stack. Its
// name is "AwsSolutions-" plus the stack's path with slashes as dashes, so
// a top-level stack's has two dashes; a glob finds either form.
func readNagReport(dir, stackID string) ([]NagRow, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "AwsSolutions-*"+stackID+"-NagReport.csv"))
	if err != nil || len(matches) == 0 {
		return nil, err
	}
	f, err := os.Open(matches[0])
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the cdk-nag report: %w", err)
	}
	defer f.Close()
	return parseNagCSV(f, matches[0])
}

func parseNagCSV(r interface{ Read([]byte) (int, error) }, name string) ([]NagRow, error) {
	records, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("parse the cdk-nag report %s: %w", name, err)
	}
	var rows []NagRow
	for i, rec := range records {
		if i == 0 {
			continue // the header
		}
		if len(rec) < 6 {
			return nil, fmt.Errorf("parse the cdk-nag report %s: row %d has %d fields, want 6", name, i+1, len(rec))
		}
		rows = append(rows, NagRow{RuleID: rec[0], ResourceID: rec[1], Compliance: rec[2], Reason: rec[3], Level: rec[4], Info: rec[5]})
	}
	return rows, nil
}

// PairStacks matches the stacks of two assemblies by artifact id. With one
// stack on each side it pairs them whatever their ids, so a renamed stack
// is still compared.
func PairStacks(base, head *Assembly) (pairs [][2]*Stack, err error) {
	if len(base.Stacks) == 1 && len(head.Stacks) == 1 {
		for _, b := range base.Stacks {
			for _, h := range head.Stacks {
				return [][2]*Stack{{b, h}}, nil
			}
		}
	}
	ids := map[string]bool{}
	for id := range base.Stacks {
		ids[id] = true
	}
	for id := range head.Stacks {
		ids[id] = true
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	slices.Sort(sorted)
	for _, id := range sorted {
		b, h := base.Stacks[id], head.Stacks[id]
		if b == nil || h == nil {
			return nil, fmt.Errorf("stack %s is only in one of the two assemblies; the report compares stacks of the same id", id)
		}
		pairs = append(pairs, [2]*Stack{b, h})
	}
	return pairs, nil
}
