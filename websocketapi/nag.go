package websocketapi

import (
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// addNagSuppressions records, on the resource itself, each cdk-nag
// AwsSolutions finding this design accepts, and why. Nothing is suppressed
// stack-wide, so a new resource with the same finding still fails.
func (b *builder) addNagSuppressions() {
	// Routes other than $connect get theirs in addRoute.
	if b.userPool != nil {
		suppress(b.userPool.Node().DefaultChild(),
			suppression("AwsSolutions-COG2",
				"MFA is optional (TOTP) so operators can script tokens with USER_PASSWORD_AUTH; users are admin-created only (no self sign-up)."),
			suppression("AwsSolutions-COG8",
				"The Plus feature plan (threat protection) is a paid tier; self sign-up is off and passwords need 12+ characters of four classes. Use an external issuer (props Issuer/Audience) where sign-in threat protection is required."))
	}
	// The finding is on the role's policy document, so the suppression is too.
	policy := func(f *function) any {
		return f.role.Node().FindChild(jsii.String("DefaultPolicy")).Node().DefaultChild()
	}
	// Both post to connections: the message function (direct messages) and
	// the fanout function (broadcasts).
	for _, f := range []*function{b.message, b.fanOut.fn} {
		suppress(policy(f), suppression("AwsSolutions-IAM5",
			"Connection ids exist only at run time; the grant is limited to POST on this API's own stage.",
			"Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<WebSocketApi>/"+b.stageName+"/POST/@connections/*"))
	}
	// X-Ray active tracing: Lambda's grant of xray:PutTraceSegments and
	// xray:PutTelemetryRecords.
	if !b.props.DisableTracing {
		for _, f := range b.apiFunctions() {
			suppress(policy(f), suppression("AwsSolutions-IAM5",
				"X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions, so X-Ray requires Resource \"*\" (the AWSXRayDaemonWriteAccess policy grants the same).",
				"Resource::*"))
		}
	}
}

// suppress attaches suppressions to one CloudFormation resource only.
func suppress(resource any, suppressions ...*cdknag.NagPackSuppression) {
	cdknag.NagSuppressions_AddResourceSuppressions(resource, &suppressions, jsii.Bool(false))
}

func suppression(id, reason string, appliesTo ...string) *cdknag.NagPackSuppression {
	s := &cdknag.NagPackSuppression{Id: jsii.String(id), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		list := make([]any, len(appliesTo))
		for i, a := range appliesTo {
			list[i] = a
		}
		s.AppliesTo = &list
	}
	return s
}
