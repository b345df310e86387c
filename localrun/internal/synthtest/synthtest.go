// Package synthtest is what the local run's end-to-end tests share: the app
// synthesized for this machine, as `make dev` does through the CDK CLI. It
// imports the CDK, so only tests import it; the helpers that need no CDK
// (a log buffer for concurrent writers, polling) are in wsapi/internal/testutil.
package synthtest

import (
	"fmt"
	"path/filepath"
	"runtime"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"wsapi/stacks"
)

// HostArchitecture is CDK's name for this machine's CPU.
func HostArchitecture() string {
	if runtime.GOARCH == "arm64" {
		return "arm64"
	}
	return "x86_64"
}

// SynthesizeForHost synthesizes the app into dir with props, its functions
// built for this machine from the module at moduleRoot, with cdk.json's
// feature flags. A failed synth (jsii panics) is returned as an error.
func SynthesizeForHost(dir, moduleRoot string, props stacks.WebSocketStackProps) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("synth: %v", r)
		}
	}()
	ctx, err := stacks.CDKJSONContext(filepath.Join(moduleRoot, "cdk.json"))
	if err != nil {
		return err
	}
	props.ModuleDir = moduleRoot
	props.LambdaArchitecture = HostArchitecture()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(dir), Context: ctx})
	stacks.NewWebSocketStack(app, stacks.DefaultStackName, &props)
	app.Synth(nil)
	return nil
}
