package review

import (
	"fmt"
	"slices"
	"strings"

	"wsapi/internal/cfnlint"
)

// Marker is the report's first line: a PR comment bot finds its own
// comment by it and updates it instead of adding another.
const Marker = "<!-- wsapi-review -->"

// Report is the review of head against base.
type Report struct {
	Base   string
	Stacks []StackReport
}

// StackReport is the review of one stack.
type StackReport struct {
	ID        string
	Diff      TemplateDiff
	Resources []ResourceChange
	Code      []CodeChange
	Nag       NagChanges
	Lint      []cfnlint.Finding
	// Errors are head's error annotations that are not cdk-nag findings.
	Errors []Annotation
}

// ResourceChange is one resource the diff engine lists, with what it means
// for the deployed resource.
type ResourceChange struct {
	ResourceDiff
	Path     string
	Stateful bool
	// Forcing are the properties that force the replacement.
	Forcing []string
	// RenamedTo is the logical ID of a resource of the same type added in
	// the same change, when this one is removed: most likely the same
	// construct under a new id or path.
	RenamedTo string
}

// Loud says whether the resource would be replaced or would leave the
// stack (deleted or orphaned): every such change gets a warning.
func (c ResourceChange) Loud() bool {
	switch c.Impact {
	case "WILL_REPLACE", "MAY_REPLACE", "WILL_DESTROY", "WILL_ORPHAN":
		return true
	}
	return false
}

// Blocker says whether the change loses a stateful resource.
func (c ResourceChange) Blocker() bool { return c.Stateful && c.Loud() }

func resourceChanges(d *TemplateDiff, base, head *Stack) []ResourceChange {
	added := map[string][]string{}
	for _, r := range d.Resources {
		if r.Kind == "added" {
			added[r.Type()] = append(added[r.Type()], r.LogicalID)
		}
	}
	var out []ResourceChange
	for _, r := range d.Resources {
		c := ResourceChange{ResourceDiff: r, Path: constructPath(head, base, r.LogicalID), Stateful: IsStateful(r.Type())}
		for _, p := range r.Properties {
			if p.Impact == "WILL_REPLACE" || p.Impact == "MAY_REPLACE" {
				c.Forcing = append(c.Forcing, p.Name)
			}
		}
		if r.Kind == "removed" && len(added[r.Type()]) == 1 {
			c.RenamedTo = added[r.Type()][0]
		}
		out = append(out, c)
	}
	// Blockers first, then loud changes, then by kind and logical ID.
	rank := func(c ResourceChange) int {
		switch {
		case c.Blocker():
			return 0
		case c.Loud():
			return 1
		}
		return 2
	}
	slices.SortStableFunc(out, func(a, b ResourceChange) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		if a.Kind != b.Kind {
			return strings.Compare(a.Kind, b.Kind)
		}
		return strings.Compare(a.LogicalID, b.LogicalID)
	})
	return out
}

// Blocker is one reason the change must not merge as it is, and what to do
// when it is intended.
type Blocker struct {
	What, Proceed string
}

// Blockers lists every blocker of the report.
func (r *Report) Blockers() []Blocker {
	var out []Blocker
	for _, s := range r.Stacks {
		for _, c := range s.Resources {
			if c.Blocker() {
				out = append(out, Blocker{What: c.warning(), Proceed: c.proceed()})
			}
		}
		for _, a := range s.Errors {
			out = append(out, Blocker{
				What:    fmt.Sprintf("the app reports an error on `%s`: %s", a.Path, a.Data),
				Proceed: "fix it: `cdk synth` and `cdk deploy` refuse an app with error annotations",
			})
		}
		for _, f := range s.Nag.NewErrors() {
			out = append(out, Blocker{
				What: fmt.Sprintf("new unsuppressed cdk-nag error `%s` on `%s`", f.Rule, f.Path),
				Proceed: "fix the finding; if the design needs it, suppress it on that resource only with a reason a " +
					"reviewer can check (suppress(...) in websocketapi/nag.go) and update the count in test/nag_test.go",
			})
		}
		for _, f := range s.Lint {
			if f.IsError() {
				out = append(out, Blocker{
					What: "cfn-lint error " + f.String(),
					Proceed: "fix the template; if cfn-lint is wrong, add the rule to cfnlint.Ignored " +
						"(internal/cfnlint) with the reason, which the tests then ignore too",
				})
			}
		}
	}
	return out
}

// ExitCode is the command's status for the report: 1 with blockers, else 0.
func (r *Report) ExitCode() int {
	if len(r.Blockers()) > 0 {
		return 1
	}
	return 0
}

// Empty says whether no stack changed at all.
func (r *Report) Empty() bool {
	for _, s := range r.Stacks {
		if s.Diff.DifferenceCount > 0 || len(s.Code) > 0 {
			return false
		}
	}
	return true
}

func (c ResourceChange) name() string {
	if c.Path != "" {
		return fmt.Sprintf("`%s` (%s `%s`)", c.Path, c.Type(), c.LogicalID)
	}
	return fmt.Sprintf("%s `%s`", c.Type(), c.LogicalID)
}

// warning is the loud line for a replaced or removed resource.
func (c ResourceChange) warning() string {
	switch c.Impact {
	case "WILL_REPLACE", "MAY_REPLACE":
		verb := "will be REPLACED"
		if c.Impact == "MAY_REPLACE" {
			verb = "may be REPLACED (CloudFormation decides at deploy time)"
		}
		forcing := ""
		if len(c.Forcing) > 0 {
			forcing = " because of " + strings.Join(c.Forcing, ", ")
		}
		return fmt.Sprintf("%s %s%s: a new one is created and the old one deleted", c.name(), verb, forcing)
	case "WILL_DESTROY":
		return fmt.Sprintf("%s will be DELETED: it left the template and its removal policy is Delete", c.name()) + c.renamed()
	case "WILL_ORPHAN":
		return fmt.Sprintf("%s will be ORPHANED: it left the template; its removal policy Retain keeps it in the account, "+
			"but the stack no longer manages it", c.name()) + c.renamed()
	}
	return c.name()
}

func (c ResourceChange) renamed() string {
	if c.RenamedTo == "" {
		return ""
	}
	return fmt.Sprintf(", and a new, empty %s `%s` takes its place (a construct id or path change gives a new logical ID)", c.Type(), c.RenamedTo)
}

// proceed says what to do when losing the stateful resource is intended,
// or how to avoid it.
func (c ResourceChange) proceed() string {
	keep := ""
	if c.RenamedTo != "" {
		keep = fmt.Sprintf("To keep the data, keep the logical ID `%s`: revert the construct id or path (the construct "+
			"sits under id \"Default\" for that reason), or pin it on the new resource with "+
			"`OverrideLogicalId(\"%s\")` on its CfnResource, or move it with `cdk refactor`. ", c.LogicalID, c.LogicalID)
	}
	switch c.Impact {
	case "WILL_REPLACE", "MAY_REPLACE":
		return keep + "If the replacement is intended: export the data first (DynamoDB export to S3, Cognito user " +
			"export, CloudWatch Logs export), deploy, load it into the new resource, and say so in the pull request."
	case "WILL_ORPHAN":
		return keep + "If leaving it is intended: after the deploy the old resource stays in the account unmanaged; " +
			"copy its data over or adopt it back with `cdk import`, then delete it by hand, and say so in the pull request."
	default:
		return keep + "If deleting it is intended: export the data first, and say so in the pull request; to keep " +
			"the resource, set its removal policy to RETAIN in a deploy before the one that removes it."
	}
}
