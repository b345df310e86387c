package stacks

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/jsii-runtime-go"
)

// goBundler builds one Lambda's main package with the local Go toolchain, so
// synth needs no Docker engine. It implements awscdk.ILocalBundling.
type goBundler struct {
	moduleDir string // the Go module root, where `go build` runs
	pkg       string // package path relative to moduleDir, e.g. ./lambdas/connect
	goarch    string // arm64 in the cloud; the host's architecture for local runs
}

var _ awscdk.ILocalBundling = (*goBundler)(nil)

// TryBundle builds a static, stripped `bootstrap` for provided.al2023.
// -trimpath and -buildvcs=false keep the binary, and so the asset hash, the
// same across checkouts and commits that do not touch the code it is built from.
func (b *goBundler) TryBundle(outputDir *string, _ *awscdk.BundlingOptions) *bool {
	out := filepath.Join(*outputDir, "bootstrap")
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w", "-tags", "lambda.norpc", "-o", out, b.pkg)
	cmd.Dir = b.moduleDir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+b.goarch, "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
	if output, err := cmd.CombinedOutput(); err != nil {
		// A panic here surfaces as the synth error, with go's own message;
		// returning false would make CDK fall back to Docker and hide it.
		panic(fmt.Sprintf("bundling %s: go build: %v\n%s", b.pkg, err, output))
	}
	return jsii.Bool(true)
}

// goCode is the Lambda code asset for the main package lambdas/<name>.
func goCode(moduleDir, name, goarch string) awslambda.Code {
	return awslambda.Code_FromAsset(jsii.String(filepath.Join(moduleDir, "lambdas", name)), &awss3assets.AssetOptions{
		// Hash what was built, not the source folder: shared code lives
		// outside it, and a rebuild of unchanged code yields the same bytes.
		AssetHashType: awscdk.AssetHashType_OUTPUT,
		Bundling: &awscdk.BundlingOptions{
			// Never pulled: the local bundler always succeeds or fails loudly.
			Image: awscdk.DockerImage_FromRegistry(jsii.String("local-go-build-only")),
			Local: &goBundler{moduleDir: moduleDir, pkg: "./lambdas/" + name, goarch: goarch},
		},
	})
}
