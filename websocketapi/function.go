package websocketapi

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"wsapi/contract"
	"wsapi/gofunction"
)

// function is one Go Lambda with its own role, which starts with nothing but
// writing to its own log group.
type function struct {
	fn             awslambda.Function
	role           awsiam.Role
	name           string // lambdas/<name>, the contract's Function dimension
	timeoutSeconds float64
}

// newFunction defines the Lambda built from lambdas/<name>. An API
// function (apiFunction) emits EMF metrics into the stack's namespace and is
// traced with X-Ray unless DisableTracing; the custom resource's is neither.
func (b *builder) newFunction(name, description string, memoryMB, timeoutSeconds float64, env map[string]string, apiFunction bool) *function {
	id := exportedName(name)
	logGroup := awslogs.NewLogGroup(b.Construct, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		Retention:     b.props.LogRetention,
		RemovalPolicy: b.props.RemovalPolicy,
	})
	// An own role instead of the default one: the default attaches the
	// AWSLambdaBasicExecutionRole managed policy (any log group).
	role := awsiam.NewRole(b.Construct, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Execution role of the " + name + " function"),
	})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: jsii.Strings(*logGroup.LogGroupArn()),
	}))

	environment := make(map[string]*string, len(env)+1)
	for k, v := range env {
		environment[k] = jsii.String(v)
	}
	var tracing awslambda.Tracing // unset: no TracingConfig at all
	if apiFunction {
		environment[contract.EnvMetricsNamespace] = b.obs.namespace
		if !b.props.DisableTracing {
			tracing = awslambda.Tracing_ACTIVE
		}
	}
	arch := b.architecture()

	fn := awslambda.NewFunction(b.Construct, jsii.String(id+"Function"), &awslambda.FunctionProps{
		Description:           jsii.String(description),
		Runtime:               awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:          arch,
		Handler:               jsii.String("bootstrap"),
		Code:                  gofunction.Code(&gofunction.CodeProps{ModuleDir: b.props.ModuleDir, Entry: "./lambdas/" + name, Architecture: arch}),
		MemorySize:            jsii.Number(memoryMB),
		Timeout:               awscdk.Duration_Seconds(jsii.Number(timeoutSeconds)),
		Role:                  role,
		LogGroup:              logGroup,
		LoggingFormat:         awslambda.LoggingFormat_JSON,
		ApplicationLogLevelV2: awslambda.ApplicationLogLevel_INFO,
		SystemLogLevelV2:      awslambda.SystemLogLevel_WARN,
		Environment:           &environment,
		// ACTIVE also grants xray:PutTraceSegments and
		// xray:PutTelemetryRecords, on "*" (nag.go says why).
		Tracing: tracing,
	})
	return &function{fn: fn, role: role, name: name, timeoutSeconds: timeoutSeconds}
}

// allow grants actions on one resource, as a statement of its own.
func (f *function) allow(actions []string, resource *string) {
	f.role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(actions...),
		Resources: &[]*string{resource},
	}))
}

// allowInvoke lets API Gateway invoke the function from sourceARN only.
func (f *function) allowInvoke(id string, sourceARN *string) {
	f.fn.AddPermission(jsii.String("InvokeFrom"+id), &awslambda.Permission{
		Principal: awsiam.NewServicePrincipal(jsii.String("apigateway.amazonaws.com"), nil),
		Action:    jsii.String("lambda:InvokeFunction"),
		SourceArn: sourceARN,
	})
}

// exportedName turns "connect" into "Connect" for construct ids.
func exportedName(name string) string {
	if name == "" {
		return name
	}
	return string(name[0]-'a'+'A') + name[1:]
}

// architecture is LambdaArchitecture as CDK's type.
func (b *builder) architecture() awslambda.Architecture {
	if b.props.LambdaArchitecture == "x86_64" {
		return awslambda.Architecture_X86_64()
	}
	return awslambda.Architecture_ARM_64()
}
