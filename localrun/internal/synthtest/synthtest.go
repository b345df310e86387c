// Package synthtest is what the local run's end-to-end tests share: the app
// synthesized for this machine, as `make dev` does through the CDK CLI, and a
// log buffer safe for concurrent writers. It imports the CDK, so only tests
// import it.
package synthtest

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

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

// LockedBuffer collects a run's logs for failure reports.
type LockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
