package gofunction

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// CodeProps say which main package to build, and for which architecture.
type CodeProps struct {
	// ModuleDir is the Go module root (the folder of go.mod, or go.mod
	// itself), where go list and go build run. Default: ".".
	ModuleDir string
	// Entry is the main package, a path relative to ModuleDir such as
	// "./lambdas/connect" (or a .go file in it, or an absolute path inside
	// the module).
	Entry string
	// Architecture is awslambda.Architecture_ARM_64() (the default, when
	// nil) or awslambda.Architecture_X86_64().
	Architecture awslambda.Architecture
}

// GoFunctionProps are CodeProps plus the function's options. Architecture
// is FunctionOptions.Architecture.
type GoFunctionProps struct {
	// ModuleDir is the Go module root; see CodeProps.
	ModuleDir string
	// Entry is the main package; see CodeProps.
	Entry string
	// FunctionOptions are passed through to awslambda.NewFunction.
	awslambda.FunctionOptions
}

// NewGoFunction is an awslambda.Function on provided.al2023, handler
// bootstrap, whose code is Entry built by Code.
func NewGoFunction(scope constructs.Construct, id *string, props *GoFunctionProps) awslambda.Function {
	if props == nil {
		panic(fmt.Sprintf("gofunction %s: props are required (Entry at least)", deref(id)))
	}
	code := newCode(deref(id), &CodeProps{ModuleDir: props.ModuleDir, Entry: props.Entry, Architecture: props.Architecture})
	fnProps := &awslambda.FunctionProps{}
	// FunctionProps is FunctionOptions plus Code, Handler and Runtime: copy
	// every option by name, whatever this CDK version has.
	from := reflect.ValueOf(props.FunctionOptions)
	to := reflect.ValueOf(fnProps).Elem()
	for i := range from.NumField() {
		to.FieldByName(from.Type().Field(i).Name).Set(from.Field(i))
	}
	if fnProps.Architecture == nil {
		fnProps.Architecture = awslambda.Architecture_ARM_64()
	}
	fnProps.Code = code
	fnProps.Handler = jsii.String("bootstrap")
	fnProps.Runtime = awslambda.Runtime_PROVIDED_AL2023()
	return awslambda.NewFunction(scope, id, fnProps)
}

// Code is the Lambda code asset of props.Entry built for provided.al2023,
// with an asset hash of the build's inputs, so that a synth whose inputs are
// staged already in the cloud assembly runs no build. It panics with every
// problem of props at once.
func Code(props *CodeProps) awslambda.Code {
	if props == nil {
		panic("gofunction.Code: props are required (Entry at least)")
	}
	return newCode("Code", props)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// resolved are CodeProps checked and made absolute.
type resolved struct {
	moduleDir string // absolute
	entry     string // ./relative/to/moduleDir, slash-separated
	goarch    string // arm64 or amd64
}

// validate reports every problem of props; archName is the Architecture's
// name ("" when nil).
func validate(moduleDir, entry, archName string) (resolved, []string) {
	var r resolved
	var problems []string

	switch archName {
	case "", "arm64":
		r.goarch = "arm64"
	case "x86_64":
		r.goarch = "amd64"
	default:
		problems = append(problems, fmt.Sprintf("Architecture %q: only arm64 and x86_64 are supported", archName))
	}

	if moduleDir == "" {
		moduleDir = "."
	}
	if filepath.Base(moduleDir) == "go.mod" {
		moduleDir = filepath.Dir(moduleDir)
	}
	abs, err := filepath.Abs(moduleDir)
	moduleOK := err == nil
	if moduleOK {
		if st, err := os.Stat(filepath.Join(abs, "go.mod")); err != nil || !st.Mode().IsRegular() {
			problems = append(problems, fmt.Sprintf("ModuleDir %q: no go.mod in %s", moduleDir, abs))
			moduleOK = false
		}
	} else {
		problems = append(problems, fmt.Sprintf("ModuleDir %q: %v", moduleDir, err))
	}
	r.moduleDir = abs

	if entry == "" {
		problems = append(problems, "Entry is required: a main package, such as ./lambdas/connect")
		return r, problems
	}
	dir := entry
	if strings.HasSuffix(dir, ".go") {
		dir = filepath.Dir(dir)
	}
	if filepath.IsAbs(dir) {
		rel, err := filepath.Rel(abs, dir)
		if err != nil {
			problems = append(problems, fmt.Sprintf("Entry %q: %v", entry, err))
			return r, problems
		}
		dir = rel
	}
	dir = filepath.Clean(dir)
	if dir == ".." || strings.HasPrefix(dir, ".."+string(filepath.Separator)) {
		problems = append(problems, fmt.Sprintf("Entry %q is outside ModuleDir %q", entry, moduleDir))
		return r, problems
	}
	r.entry = "./" + filepath.ToSlash(dir)
	if dir == "." {
		r.entry = "."
	}
	if moduleOK {
		if st, err := os.Stat(filepath.Join(abs, dir)); err != nil || !st.IsDir() {
			problems = append(problems, fmt.Sprintf("Entry %q: no folder %s", entry, filepath.Join(abs, dir)))
		}
	}
	return r, problems
}

func newCode(what string, props *CodeProps) awslambda.Code {
	archName := ""
	if props.Architecture != nil {
		archName = *props.Architecture.Name()
	}
	r, problems := validate(props.ModuleDir, props.Entry, archName)
	if len(problems) == 0 {
		// go list's findings (not a main package, a missing import) are
		// reported with the others.
		hash, err := AssetHash(r.moduleDir, r.entry, r.goarch)
		if err != nil {
			problems = append(problems, err.Error())
		} else {
			return awslambda.Code_FromAsset(jsii.String(filepath.Join(r.moduleDir, r.entry)), &awss3assets.AssetOptions{
				AssetHashType: awscdk.AssetHashType_CUSTOM,
				AssetHash:     jsii.String(hash),
				Bundling: &awscdk.BundlingOptions{
					// Never pulled: the local bundler succeeds or panics.
					Image: awscdk.DockerImage_FromRegistry(jsii.String("local-go-build-only")),
					Local: &bundler{moduleDir: r.moduleDir, entry: r.entry, goarch: r.goarch},
				},
			})
		}
	}
	panic(fmt.Sprintf("gofunction %s: %d problem(s):\n  - %s", what, len(problems), strings.Join(problems, "\n  - ")))
}

// builds counts go builds, for the tests.
var builds atomic.Int64

// bundler builds one main package with the local Go toolchain. It
// implements awscdk.ILocalBundling.
type bundler struct {
	moduleDir string
	entry     string
	goarch    string
}

var _ awscdk.ILocalBundling = (*bundler)(nil)

// TryBundle writes outputDir/bootstrap; CDK calls it only when the asset
// with this hash is not staged yet.
func (b *bundler) TryBundle(outputDir *string, _ *awscdk.BundlingOptions) *bool {
	if err := build(b.moduleDir, b.entry, b.goarch, filepath.Join(*outputDir, "bootstrap")); err != nil {
		// A panic surfaces as the synth error with go's own message;
		// returning false would make CDK fall back to Docker and hide it.
		panic(err.Error())
	}
	return jsii.Bool(true)
}

// build runs go build for provided.al2023.
func build(moduleDir, entry, goarch, out string) error {
	builds.Add(1)
	args := append([]string{"build"}, buildFlags...)
	cmd := exec.Command("go", append(args, "-o", out, entry)...)
	cmd.Dir = moduleDir
	cmd.Env = buildEnv(goarch)
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("bundling %s: go build: %v\n%s", entry, err, output)
	}
	return nil
}
