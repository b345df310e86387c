package review

import (
	"fmt"
	"strings"

	"wsapi/internal/cfnlint"
)

// Markdown renders the report for a terminal or a pull request comment.
func (r *Report) Markdown() string {
	var b strings.Builder
	blockers := r.Blockers()
	fmt.Fprintln(&b, Marker)
	fmt.Fprintf(&b, "# Review: the working tree against `%s`\n\n", r.Base)
	switch len(blockers) {
	case 0:
		fmt.Fprint(&b, "**No blockers.**")
	case 1:
		fmt.Fprint(&b, "**⛔ 1 blocker.**")
	default:
		fmt.Fprintf(&b, "**⛔ %d blockers.**", len(blockers))
	}
	if r.Empty() {
		fmt.Fprintf(&b, " **No changes**: the template is the same as `%s`'s.\n\n", r.Base)
	} else {
		fmt.Fprintf(&b, " %s\n\n", r.summary())
	}
	if len(blockers) > 0 {
		fmt.Fprintln(&b, "## Blockers")
		fmt.Fprintln(&b)
		for _, bl := range blockers {
			fmt.Fprintf(&b, "- ⛔ %s.\n  **If this is intended:** %s\n", bl.What, bl.Proceed)
		}
		fmt.Fprintln(&b)
	}
	for _, s := range r.Stacks {
		suffix := ""
		if len(r.Stacks) > 1 {
			suffix = " (" + s.ID + ")"
		}
		s.writeResources(&b, suffix)
		s.writeSecurity(&b, suffix)
		s.writeCode(&b, suffix)
		s.writeNag(&b, suffix)
		s.writeLint(&b, suffix)
		if s.Diff.DifferenceCount > 0 {
			fmt.Fprintf(&b, "<details><summary>The whole <code>cdk diff</code>%s</summary>\n\n```text\n%s\n```\n\n</details>\n\n",
				suffix, strings.TrimRight(s.Diff.Full, "\n"))
		}
	}
	return b.String()
}

// summary is one line of counts.
func (r *Report) summary() string {
	var resources, loud, code int
	broadened := false
	for _, s := range r.Stacks {
		resources += len(s.Resources)
		for _, c := range s.Resources {
			if c.Loud() {
				loud++
			}
		}
		code += len(s.Code)
		broadened = broadened || s.Diff.PermissionsBroadened
	}
	parts := []string{fmt.Sprintf("%d resource(s) changed, %d replaced or removed", resources, loud)}
	if broadened {
		parts = append(parts, "permissions broadened")
	}
	parts = append(parts, fmt.Sprintf("%d function(s) with new code", code))
	return strings.Join(parts, "; ") + "."
}

func (s StackReport) writeResources(b *strings.Builder, suffix string) {
	fmt.Fprintf(b, "## Resources%s\n\n", suffix)
	if len(s.Resources) == 0 && len(s.Diff.Outputs) == 0 {
		if s.Diff.DifferenceCount == 0 {
			fmt.Fprint(b, "No changes.\n\n")
		} else {
			fmt.Fprint(b, "No resource changes (see the whole diff below).\n\n")
		}
		return
	}
	var warnings []string
	for _, c := range s.Resources {
		if !c.Loud() {
			continue
		}
		mark := "⚠️ **WARNING**"
		if c.Blocker() {
			mark = "⛔ **BLOCKER (stateful)**"
		}
		warnings = append(warnings, fmt.Sprintf("> %s: %s.\n", mark, c.warning()))
	}
	if len(warnings) > 0 {
		fmt.Fprintf(b, "%s\n", strings.Join(warnings, ">\n"))
	}
	if len(s.Resources) > 0 {
		fmt.Fprintln(b, "| change | resource | type | impact | properties |")
		fmt.Fprintln(b, "|---|---|---|---|---|")
		for _, c := range s.Resources {
			props := make([]string, 0, len(c.Properties))
			for _, p := range c.Properties {
				if p.Impact != "" && p.Impact != "WILL_UPDATE" {
					props = append(props, p.Name+" ("+p.Impact+")")
				} else {
					props = append(props, p.Name)
				}
			}
			props = append(props, c.Other...)
			name := "`" + c.LogicalID + "`"
			if c.Path != "" {
				name = "`" + c.Path + "` " + name
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", c.Kind, name, c.Type(), c.Impact, strings.Join(props, ", "))
		}
		fmt.Fprintln(b)
	}
	if len(s.Diff.Outputs) > 0 {
		fmt.Fprint(b, "Outputs:")
		for i, o := range s.Diff.Outputs {
			sep := ","
			if i == 0 {
				sep = ""
			}
			fmt.Fprintf(b, "%s `%s` (%s)", sep, o.ID, o.Kind)
		}
		fmt.Fprint(b, ".\n\n")
	}
}

func (s StackReport) writeSecurity(b *strings.Builder, suffix string) {
	fmt.Fprintf(b, "## IAM and security%s\n\n", suffix)
	if strings.TrimSpace(s.Diff.Security) == "" {
		fmt.Fprint(b, "No IAM statement or security group changes.\n\n")
		return
	}
	if s.Diff.PermissionsBroadened {
		fmt.Fprintln(b, "⚠️ **Permissions broadened.** Added statements:")
		fmt.Fprintln(b)
		for _, line := range s.Diff.Broadening {
			fmt.Fprintf(b, "- `%s`\n", line)
		}
		fmt.Fprintln(b)
	} else {
		fmt.Fprint(b, "Permissions changed, not broadened.\n\n")
	}
	fmt.Fprintf(b, "As `cdk diff` shows them:\n\n```text\n%s\n```\n\n", strings.TrimRight(s.Diff.Security, "\n"))
}

func (s StackReport) writeCode(b *strings.Builder, suffix string) {
	fmt.Fprintf(b, "## Lambda code%s\n\n", suffix)
	if len(s.Code) == 0 {
		fmt.Fprint(b, "No function's code changed.\n\n")
		return
	}
	for _, c := range s.Code {
		name := "`" + c.LogicalID + "`"
		if c.Path != "" {
			name = "`" + c.Path + "` (" + name + ")"
		}
		switch c.Kind {
		case "changed":
			fmt.Fprintf(b, "- %s: code changed, asset `%s` → `%s`\n", name, c.Old, c.New)
		case "added":
			fmt.Fprintf(b, "- %s: new function, asset `%s`\n", name, c.New)
		default:
			fmt.Fprintf(b, "- %s: function removed (was asset `%s`)\n", name, c.Old)
		}
	}
	fmt.Fprintln(b)
}

func (s StackReport) writeNag(b *strings.Builder, suffix string) {
	fmt.Fprintf(b, "## cdk-nag (AwsSolutions)%s\n\n", suffix)
	n := s.Nag
	if n.NoReport {
		fmt.Fprint(b, "⚠️ The head assembly has no cdk-nag report: did the app stop applying the AwsSolutions pack?\n\n")
	}
	if len(n.New)+len(n.Resolved)+len(n.NewSuppressed)+len(n.RemovedSuppressed) == 0 {
		fmt.Fprintf(b, "No change in findings (%d unsuppressed).\n\n", len(n.Unsuppressed))
		return
	}
	list := func(title string, fs []NagFinding, withReason bool) {
		if len(fs) == 0 {
			return
		}
		fmt.Fprintf(b, "%s:\n\n", title)
		for _, f := range fs {
			fmt.Fprintf(b, "- %s `%s` on `%s`", f.Level, f.Rule, f.Path)
			if withReason {
				fmt.Fprintf(b, ": %s", f.Reason)
			}
			fmt.Fprintln(b)
		}
		fmt.Fprintln(b)
	}
	list("⛔ New unsuppressed findings", n.New, false)
	list("Resolved findings", n.Resolved, false)
	list("New suppressions, with their reasons (review them)", n.NewSuppressed, true)
	list("Suppressions no longer used", n.RemovedSuppressed, false)
}

func (s StackReport) writeLint(b *strings.Builder, suffix string) {
	fmt.Fprintf(b, "## cfn-lint%s\n\n", suffix)
	ignored := make([]string, 0, len(cfnlint.Ignored))
	for _, rule := range cfnlint.IgnoredRules() {
		ignored = append(ignored, rule+" ("+cfnlint.Ignored[rule]+")")
	}
	if len(s.Lint) == 0 {
		fmt.Fprintf(b, "No errors or warnings. Ignored: %s.\n\n", strings.Join(ignored, "; "))
		return
	}
	for _, f := range s.Lint {
		mark := ""
		if f.IsError() {
			mark = "⛔ "
		}
		fmt.Fprintf(b, "- %s%s\n", mark, f.String())
	}
	fmt.Fprintf(b, "\nIgnored: %s.\n\n", strings.Join(ignored, "; "))
}
