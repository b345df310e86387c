// Package gofunction builds Go Lambda functions for provided.al2023 with the
// local Go toolchain at synth time: a drop-in for the alpha GoFunction
// construct (aws-lambda-go-alpha) that platform teams and route handlers can
// import.
//
// # Why not the alpha GoFunction
//
// The Go module proxy refuses every "-alpha" CDK module, so
// awscdklambdagoalpha cannot be required at all. It also bundles in Docker
// unless a local go is found, and then hashes the asset its own way (the
// source folder or the output), which either misses shared code outside the
// entry folder or needs a build before the hash is known.
//
// # Usage
//
//	fn := gofunction.NewGoFunction(stack, jsii.String("Connect"), &gofunction.GoFunctionProps{
//		ModuleDir: ".",                 // holds go.mod
//		Entry:     "./lambdas/connect", // a main package, relative to ModuleDir
//		FunctionOptions: awslambda.FunctionOptions{
//			Architecture: awslambda.Architecture_ARM_64(), // or X86_64; ARM_64 if nil
//			MemorySize:   jsii.Number(128),
//		},
//	})
//
// Runtime (provided.al2023), Handler ("bootstrap") and Code are set by the
// construct; every other awslambda.FunctionOptions field is passed through.
// A stack that creates its own awslambda.Function keeps its construct ids
// and resource types and only swaps the code:
//
//	Code: gofunction.Code(&gofunction.CodeProps{ModuleDir: ".", Entry: "./lambdas/connect", Architecture: arch}),
//
// Props are checked up front; every problem is reported at once, in one
// panic, as CDK constructs do.
//
// # The build
//
// go build runs in ModuleDir with GOOS=linux, GOARCH=arm64 or amd64,
// CGO_ENABLED=0, GOFLAGS=-mod=readonly and -trimpath -buildvcs=false
// -ldflags="-s -w" -tags lambda.norpc, and writes a static binary named
// bootstrap. No Docker engine is needed; a build failure panics with go's
// own message (returning false would make CDK try Docker and hide it).
//
// # The asset hash
//
// The asset hash is computed from the build's inputs, before building
// (AssetHashType_CUSTOM), with one `go list -deps` of the entry under the
// same GOOS, GOARCH, CGO_ENABLED and tags as the build:
//
//   - every file the compiler or linker reads from the packages of the main
//     module (and of modules replaced by a local directory) that the entry
//     imports, directly or not: GoFiles, CgoFiles, the files matched by
//     //go:embed patterns (EmbedFiles), and SFiles, HFiles, CFiles and
//     SysoFiles; a package of the module that the entry does not import does
//     not count;
//   - go.mod and go.sum (and go.work, go.work.sum in workspace mode): they pin
//     every other module, whose contents the go command checks against
//     go.sum, so they need not be read;
//   - the Go version (go env GOVERSION, after any toolchain switch) and
//     GOAMD64, GOARM64, GOEXPERIMENT;
//   - GOOS, GOARCH, the entry's import path and the build flags.
//
// Files are hashed as their path relative to ModuleDir plus a digest of
// their contents, sorted, so two checkouts at different paths get the same
// hash, and the binary (reproducible thanks to -trimpath and -buildvcs=false)
// matches it.
//
// Because the hash is known before bundling, CDK's AssetStaging looks for
// cdk.out/asset.<hash> and, when it is there, skips bundling: a synth whose
// inputs did not change runs no go build, only go list (about 0.2 s per
// function). The caveat is CDK's: a synth killed in the middle of a build can
// leave a partial asset directory behind that the next synth trusts; delete
// cdk.out then.
package gofunction
