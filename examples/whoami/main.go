// Command whoami is a small CDK app that uses the wsapi WebSocketAPI
// construct from another Go module: the construct's defaults plus one
// route of its own, whoami, which answers who the caller is.
package main

import (
	_ "embed"
	"fmt"
	"os"
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"wsapi/gofunction"
	"wsapi/websocketapi"
)

// whoamiTemplate renders the whoami function's event.
//
//go:embed whoami.vtl
var whoamiTemplate string

// DefaultStackName is the stack's name without the context key stackName.
const DefaultStackName = "WhoamiExample"

var stackNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,127}$`)

func main() {
	defer jsii.Close()

	app := awscdk.NewApp(nil)
	name, arch, err := fromContext(app.Node())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		jsii.Close()
		os.Exit(1)
	}
	NewWhoamiStack(app, name, arch)
	app.Synth(nil)
}

// fromContext reads the two context keys the app knows: stackName and
// lambdaArchitecture (arm64, the default, or x86_64).
func fromContext(node constructs.Node) (name, arch string, err error) {
	name, arch = DefaultStackName, websocketapi.DefaultLambdaArchitecture
	if v := node.TryGetContext(jsii.String("stackName")); v != nil {
		name = fmt.Sprint(v)
	}
	if v := node.TryGetContext(jsii.String("lambdaArchitecture")); v != nil {
		arch = fmt.Sprint(v)
	}
	if !stackNamePattern.MatchString(name) {
		return "", "", fmt.Errorf("stackName=%q: want a CloudFormation stack name", name)
	}
	if arch != "arm64" && arch != "x86_64" {
		return "", "", fmt.Errorf("lambdaArchitecture=%q: want arm64 or x86_64", arch)
	}
	return name, arch, nil
}

// NewWhoamiStack is the WebSocket API with every default, plus whoami.
func NewWhoamiStack(scope constructs.Construct, name, arch string) awscdk.Stack {
	stack := awscdk.NewStack(scope, jsii.String(name), nil) // environment-agnostic

	api := websocketapi.NewWebSocketAPI(stack, "Chat", &websocketapi.WebSocketAPIProps{
		LambdaArchitecture: arch,
	})

	whoami := gofunction.NewGoFunction(stack, jsii.String("Whoami"), &gofunction.GoFunctionProps{
		ModuleDir: ".",
		Entry:     "./whoami",
		FunctionOptions: awslambda.FunctionOptions{
			Architecture:  api.Architecture(), // the built-in functions' too
			MemorySize:    jsii.Number(128),
			Timeout:       awscdk.Duration_Seconds(jsii.Number(10)),
			LoggingFormat: awslambda.LoggingFormat_JSON,
			Description:   jsii.String("whoami route: answers with the caller's principal and connection"),
		},
	})
	api.AddRoute("whoami", &websocketapi.RouteOptions{
		Function:        whoami,
		RequestTemplate: whoamiTemplate,
		TwoWay:          true,
	})

	awscdk.NewCfnOutput(stack, jsii.String("WebSocketURL"), &awscdk.CfnOutputProps{
		Value:       api.URL(),
		Description: jsii.String("Connect with ?token=<access token>, then send {\"action\":\"whoami\"}"),
	})
	if pool := api.UserPool(); pool != nil {
		awscdk.NewCfnOutput(stack, jsii.String("UserPoolId"), &awscdk.CfnOutputProps{Value: pool.UserPoolId()})
		awscdk.NewCfnOutput(stack, jsii.String("UserPoolClientId"), &awscdk.CfnOutputProps{Value: api.UserPoolClient().UserPoolClientId()})
	}
	return stack
}
