package stacks

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"wsapi/websocketapi"
)

// NewWebSocketStack defines the whole app: a stack holding the
// websocketapi construct, and outputs for the people who deploy it. It
// panics with every problem at once when props are invalid, as CDK
// constructs do.
//
// The construct's id is "Default", which CDK leaves out of logical IDs
// (identifiers-logical-id-heuristics): every resource keeps the logical ID
// it had when this stack defined them itself, so an existing deployment
// sees no replacement (test/testdata/before-construct).
func NewWebSocketStack(scope constructs.Construct, id string, props *WebSocketStackProps) awscdk.Stack {
	var p WebSocketStackProps
	if props != nil {
		p = *props
	}
	if err := p.Validate(); err != nil {
		panic(fmt.Sprintf("NewWebSocketStack %s: invalid props:\n%v", id, err))
	}

	stack := awscdk.NewStack(scope, &id, &p.StackProps)
	api := websocketapi.NewWebSocketAPI(stack, "Default", &p.WebSocketAPIProps)

	output := func(id string, value *string, description string) {
		awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{Value: value, Description: jsii.String(description)})
	}
	output("WebSocketURL", api.URL(), "wss URL clients connect to")
	output("ConnectionsEndpoint", api.ConnectionsEndpoint(), "API Gateway Management API endpoint (@connections)")
	output("TableName", api.Table().TableName(), "DynamoDB table of connections")
	output("FanOutQueueURL", api.FanOutQueue().QueueUrl(), "SQS queue of broadcast jobs and shards")
	output("FanOutDeadLetterQueueURL", api.FanOutDeadLetterQueue().QueueUrl(),
		"SQS dead-letter queue of broadcast jobs and shards that failed (redrive it to the queue once fixed)")
	output("JobsTableName", api.JobsTable().TableName(), "DynamoDB table of broadcast totals and shard checkpoints")
	if pool := api.UserPool(); pool != nil {
		output("UserPoolId", pool.UserPoolId(), "Cognito user pool that issues tokens")
		output("UserPoolClientId", api.UserPoolClient().UserPoolClientId(), "Cognito app client (the token audience)")
	}
	output("WscatCommand", wscatCommand(api, p.WithDefaults().IdentitySource),
		"Set TOKEN to a JWT, then run this to connect")
	return stack
}

// wscatCommand is a shell command line that connects with the token in
// $TOKEN, passed where the identity source says, to the custom domain when
// the API has one.
func wscatCommand(api *websocketapi.WebSocketAPI, identitySource string) *string {
	name := identitySource[strings.LastIndex(identitySource, ".")+1:]
	command := func(url string) string {
		if strings.HasPrefix(identitySource, "route.request.header.") {
			return `npx wscat -H "` + name + `: Bearer $TOKEN" -c "` + url + `"`
		}
		return `npx wscat -c "` + url + "?" + name + `=$TOKEN"`
	}
	if api.DomainName() != nil {
		// A literal URL (api.URL() is wss://<DomainName>): no Fn::Sub.
		return jsii.String(command(*api.URL()))
	}
	url := "wss://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/" + api.StageName()
	return awscdk.Fn_Sub(jsii.String(command(url)), &map[string]*string{"Api": api.API().Ref()})
}
