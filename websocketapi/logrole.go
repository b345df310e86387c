package websocketapi

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/jsii-runtime-go"
)

// apiGatewayLogsPolicy is the AWS managed policy API Gateway's account-level
// CloudWatch Logs role needs, without the partition-specific prefix.
const apiGatewayLogsPolicy = ":iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"

// addLogRoleSetting makes sure the account has API Gateway's CloudWatch Logs
// role in this region, without which the stage's access logging fails to
// deploy. AWS::ApiGateway::Account is one setting per account and region, so
// a stack must not own it: the custom resource (lambdas/apigwaccount) sets it
// only when the account has none, to one shared, well-known role that it
// creates once per account; it never changes a role already set, and on
// delete it leaves both in place for the other APIs that log through them.
// See the README's "The account's CloudWatch Logs role".
func (b *builder) addLogRoleSetting() {
	if b.props.APIGatewayCloudWatchRoleExists {
		return
	}
	b.logRoleFn = b.newFunction("apigwaccount",
		"Sets API Gateway's account-level CloudWatch Logs role when the account has none", 128, 300, nil, false)

	roleARN := awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:iam::${AWS::AccountId}:role"+
		b.props.APIGatewayCloudWatchRolePath+b.props.APIGatewayCloudWatchRoleName), nil)
	policyARN := awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}"+apiGatewayLogsPolicy), nil)
	accountARN := awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:apigateway:${AWS::Region}::/account"), nil)

	// Exactly the calls it makes, on the one account setting and the one role.
	b.logRoleFn.allow([]string{"apigateway:GET", "apigateway:PATCH"}, accountARN)
	b.logRoleFn.allow([]string{"iam:GetRole", "iam:CreateRole"}, roleARN)
	b.logRoleFn.allowWhen([]string{"iam:AttachRolePolicy"}, roleARN,
		map[string]any{"ArnEquals": map[string]any{"iam:PolicyARN": policyARN}})
	b.logRoleFn.allowWhen([]string{"iam:PassRole"}, roleARN,
		map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "apigateway.amazonaws.com"}})

	b.logRoleSetting = awscdk.NewCustomResource(b.Construct, jsii.String("ApiGatewayCloudWatchRoleSetting"), &awscdk.CustomResourceProps{
		ServiceToken: b.logRoleFn.fn.FunctionArn(),
		ResourceType: jsii.String("Custom::ApiGatewayCloudWatchRole"),
		Properties: &map[string]any{
			"RoleName":  b.props.APIGatewayCloudWatchRoleName,
			"RolePath":  b.props.APIGatewayCloudWatchRolePath,
			"PolicyARN": policyARN,
		},
	})
	// The function must be able to act before CloudFormation calls it.
	b.logRoleSetting.Node().AddDependency(b.logRoleFn.role)
}

// allowWhen grants actions on one resource under conditions.
func (f *function) allowWhen(actions []string, resource *string, conditions map[string]any) {
	f.role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:    jsii.Strings(actions...),
		Resources:  &[]*string{resource},
		Conditions: &conditions,
	}))
}
