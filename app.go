// Command wsapi is the CDK app: it synthesizes the WebSocket API stack.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"wsapi/stacks"
)

func main() {
	defer jsii.Close()

	app := awscdk.NewApp(nil)
	props, propsErr := stacks.PropsFromContext(app.Node())
	name, nameErr := stacks.StackNameFromContext(app.Node())
	if err := errors.Join(nameErr, propsErr); err != nil {
		// A list of problems, not a Go panic trace.
		fmt.Fprintln(os.Stderr, err)
		jsii.Close()
		os.Exit(1)
	}
	props.Env = env()
	stacks.NewWebSocketStack(app, name, &props)

	// Every synth, here and in the tests, runs the AWS Solutions checks.
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	app.Synth(nil)
}

// env targets the account and region of the CLI's credentials; what is
// unknown (no credentials, say) stays environment-agnostic.
func env() *awscdk.Environment {
	env := &awscdk.Environment{}
	if account := os.Getenv("CDK_DEFAULT_ACCOUNT"); account != "" {
		env.Account = jsii.String(account)
	}
	if region := os.Getenv("CDK_DEFAULT_REGION"); region != "" {
		env.Region = jsii.String(region)
	}
	return env
}
