// Command wsreview prints the review report of the working tree against a
// git ref (make review BASE=<ref>): Markdown on stdout, progress on stderr.
// It exits 0 without blockers, 1 with blockers, and 2 when it could not
// produce a report (a bad ref, a failed synth, a missing tool).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"wsapi/internal/review"
)

func main() {
	os.Exit(run())
}

func run() int {
	var o review.Options
	flag.StringVar(&o.Base, "base", "", "git ref to compare the working tree against (required)")
	flag.StringVar(&o.Repo, "repo", ".", "the app's directory in a git working tree")
	flag.StringVar(&o.BaseAssembly, "base-assembly", "", "an already synthesized cloud assembly of the base, instead of synthesizing --base")
	flag.StringVar(&o.HeadAssembly, "head-assembly", "", "an already synthesized cloud assembly of the head, instead of synthesizing the working tree")
	flag.StringVar(&o.ToolsDir, "tools", "", "directory whose node_modules has @aws-cdk/cloudformation-diff (default: --repo)")
	flag.Parse()
	if o.Base == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: wsreview --base <git ref> [--repo dir] [--base-assembly dir] [--head-assembly dir]")
		return 2
	}
	o.Progress = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	r, err := review.Run(ctx, o)
	if err != nil {
		var tool *review.ToolError
		if errors.As(err, &tool) {
			fmt.Fprintf(os.Stderr, "wsreview: no report: %s is missing; install it: %s\n", tool.Tool, tool.Hint)
		} else {
			fmt.Fprintf(os.Stderr, "wsreview: no report: %v\n", err)
		}
		return 2
	}
	fmt.Print(r.Markdown())
	code := r.ExitCode()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "wsreview: %d blocker(s); the report says how to proceed when the change is intended\n", len(r.Blockers()))
	}
	return code
}
