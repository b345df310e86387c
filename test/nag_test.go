package test

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// TestCDKNag: the AwsSolutions pack reports no unsuppressed error or warning,
// for every stack variant.
func TestCDKNag(t *testing.T) {
	for name, s := range variants(t) {
		t.Run(name, func(t *testing.T) { assertNagClean(t, s) })
	}
}

// assertNagClean fails t for every unsuppressed AwsSolutions error or
// warning on the stack.
func assertNagClean(t *testing.T, s *synthesized) {
	t.Helper()
	annotations := assertions.Annotations_FromStack(s.stack)
	finding := assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))
	for _, m := range *annotations.FindError(jsii.String("*"), finding) {
		t.Errorf("cdk-nag error: %s", asJSON(m))
	}
	for _, m := range *annotations.FindWarning(jsii.String("*"), finding) {
		t.Errorf("cdk-nag warning: %s", asJSON(m))
	}
}

// TestNagSuppressionsHaveReasons: every suppression names a finding and
// explains it in a sentence, not a placeholder.
func TestNagSuppressionsHaveReasons(t *testing.T) {
	s := defaultStack(t)
	count := 0
	for id, r := range s.json["Resources"].(map[string]any) {
		meta, _ := r.(map[string]any)["Metadata"].(map[string]any)
		nag, _ := meta["cdk_nag"].(map[string]any)
		rules, _ := nag["rules_to_suppress"].([]any)
		for _, rule := range rules {
			rule := rule.(map[string]any)
			count++
			ruleID, _ := rule["id"].(string)
			reason, _ := rule["reason"].(string)
			if !strings.HasPrefix(ruleID, "AwsSolutions-") {
				t.Errorf("%s: suppression of %q is not an AwsSolutions finding", id, ruleID)
			}
			if len(reason) < 60 || !strings.Contains(reason, " ") {
				t.Errorf("%s: suppression of %s has no real reason: %q", id, ruleID, reason)
			}
		}
	}
	// APIG4 on three routes, COG2 and COG8 on the pool, IAM5 (@connections)
	// on the message and fanout roles, IAM5 (X-Ray's "*") on the five
	// traced functions' roles: a new one must be reviewed here.
	if count != 12 {
		t.Errorf("%d suppressions, want 12; review the new one and update this count", count)
	}
}
