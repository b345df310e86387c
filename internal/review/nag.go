package review

import (
	"cmp"
	"slices"
	"strings"
)

// NagFinding is one cdk-nag finding on one resource: "AwsSolutions-IAM5"
// (with its granular part, "[Resource::*]", when the rule has one) on a
// construct path.
type NagFinding struct {
	Rule      string
	Path      string // construct path without the leading slash
	LogicalID string // the resource's logical ID, when the assembly maps the path to one
	Level     string // error or warning
	Reason    string // a suppression's reason
}

// resource names the finding's resource for comparison: its logical ID
// when known, so that a construct moved without a new logical ID (as the
// stack did when it became a wrapper of the construct) keeps its findings.
func (f NagFinding) resource() string {
	if f.LogicalID != "" {
		return "L:" + f.LogicalID
	}
	return "P:" + f.Path
}

// logicalIDs maps construct paths (without the leading slash) to logical IDs.
func logicalIDs(s *Stack) map[string]string {
	m := make(map[string]string, len(s.LogicalPaths))
	for id, path := range s.LogicalPaths {
		m[strings.TrimPrefix(path, "/")] = id
	}
	return m
}

// NagChanges compares two stacks' cdk-nag results.
type NagChanges struct {
	// Unsuppressed findings new in head and gone since base.
	New, Resolved []NagFinding
	// Suppressions new in head (with their reasons) and gone since base.
	NewSuppressed, RemovedSuppressed []NagFinding
	// Unsuppressed is every unsuppressed finding of head, new or not.
	Unsuppressed []NagFinding
	// NoReport says head has no cdk-nag report: the pack did not run.
	NoReport bool
}

// NewErrors are the new unsuppressed findings of level error: blockers.
func (c NagChanges) NewErrors() []NagFinding {
	var errs []NagFinding
	for _, f := range c.New {
		if f.Level == "error" {
			errs = append(errs, f)
		}
	}
	return errs
}

// unsuppressedFindings reads the pack's findings from a stack's
// annotations: the pack reports an unsuppressed finding as an error or a
// warning on the resource, "AwsSolutions-IAM5[Resource::*]: <text>".
func unsuppressedFindings(s *Stack) []NagFinding {
	var out []NagFinding
	ids := logicalIDs(s)
	for _, a := range s.Annotations {
		if a.Level == "info" || !strings.HasPrefix(a.Data, "AwsSolutions-") {
			continue
		}
		path := strings.TrimPrefix(a.Path, "/")
		out = append(out, NagFinding{Rule: nagRule(a.Data), Path: path, LogicalID: ids[path], Level: a.Level})
	}
	return sortFindings(out)
}

// suppressedFindings reads the suppressions that matched a finding from
// the pack's CSV report, where Compliance is "Suppressed".
func suppressedFindings(s *Stack) []NagFinding {
	var out []NagFinding
	ids := logicalIDs(s)
	for _, r := range s.NagRows {
		if r.Compliance != "Suppressed" {
			continue
		}
		out = append(out, NagFinding{Rule: r.RuleID, Path: r.ResourceID, LogicalID: ids[r.ResourceID], Level: strings.ToLower(r.Level), Reason: r.Reason})
	}
	return sortFindings(out)
}

// compareNag compares the cdk-nag results of base and head.
func compareNag(base, head *Stack) NagChanges {
	c := NagChanges{NoReport: head.NagRows == nil, Unsuppressed: unsuppressedFindings(head)}
	c.New, c.Resolved = setDiff(unsuppressedFindings(base), c.Unsuppressed)
	c.NewSuppressed, c.RemovedSuppressed = setDiff(suppressedFindings(base), suppressedFindings(head))
	return c
}

// setDiff returns what is only in after (added) and only in before
// (removed), findings being the same when rule, resource and reason are.
func setDiff(before, after []NagFinding) (added, removed []NagFinding) {
	key := func(f NagFinding) string { return f.Rule + "\x00" + f.resource() + "\x00" + f.Reason }
	in := func(list []NagFinding) map[string]bool {
		m := map[string]bool{}
		for _, f := range list {
			m[key(f)] = true
		}
		return m
	}
	beforeSet, afterSet := in(before), in(after)
	for _, f := range after {
		if !beforeSet[key(f)] {
			added = append(added, f)
		}
	}
	for _, f := range before {
		if !afterSet[key(f)] {
			removed = append(removed, f)
		}
	}
	return added, removed
}

func sortFindings(fs []NagFinding) []NagFinding {
	slices.SortFunc(fs, func(a, b NagFinding) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Reason, b.Reason))
	})
	return slices.CompactFunc(fs, func(a, b NagFinding) bool { return a == b })
}

// nagRule is the rule id of a finding's message: "AwsSolutions-IAM5" of
// "AwsSolutions-IAM5: ...", "AwsSolutions-IAM5[Action::s3:*]" of
// "AwsSolutions-IAM5[Action::s3:*]: ..." (the granular part has colons).
func nagRule(data string) string {
	end := strings.IndexAny(data, ":[")
	if end >= 0 && data[end] == '[' {
		if close := strings.Index(data[end:], "]"); close >= 0 {
			return data[:end+close+1]
		}
	}
	if end < 0 {
		return strings.TrimSpace(data)
	}
	return data[:end]
}
