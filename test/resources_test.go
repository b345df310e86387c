package test

import (
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
)

func TestTable(t *testing.T) {
	s := defaultStack(t)
	cdkAssert(t, "two tables: connections and jobs", func() {
		s.template.ResourceCountIs(jsii.String("AWS::DynamoDB::Table"), jsii.Number(2))
	})
	_, table := s.resource(t, "AWS::DynamoDB::Table", "Connections")
	equalJSON(t, "table", props(table), map[string]any{
		"KeySchema":                        []any{map[string]any{"AttributeName": "connectionId", "KeyType": "HASH"}},
		"AttributeDefinitions":             []any{map[string]any{"AttributeName": "connectionId", "AttributeType": "S"}, map[string]any{"AttributeName": "principalId", "AttributeType": "S"}},
		"BillingMode":                      "PAY_PER_REQUEST",
		"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
		"TimeToLiveSpecification":          map[string]any{"AttributeName": "expiresAt", "Enabled": true},
		"GlobalSecondaryIndexes": []any{map[string]any{
			"IndexName":  "byPrincipal",
			"KeySchema":  []any{map[string]any{"AttributeName": "principalId", "KeyType": "HASH"}},
			"Projection": map[string]any{"ProjectionType": "KEYS_ONLY"},
		}},
	})
	if table["DeletionPolicy"] != "Retain" || table["UpdateReplacePolicy"] != "Retain" {
		t.Errorf("default removal policy: got %v/%v, want Retain", table["DeletionPolicy"], table["UpdateReplacePolicy"])
	}
	_, external := externalStack(t).resource(t, "AWS::DynamoDB::Table", "Connections")
	if external["DeletionPolicy"] != "Delete" {
		t.Errorf("RemovalPolicy DESTROY: got DeletionPolicy %v", external["DeletionPolicy"])
	}
}

// functionSpec is what the template must say about one Lambda.
type functionSpec struct {
	name       string // construct id prefix
	memory     int
	timeout    int
	env        map[string]any
	statements []any // IAM statements after the log statement, exactly
	traced     bool  // X-Ray active tracing (the API's functions)
}

// metricsNamespace is the functions' EMF namespace in the stack WebSocketApi.
var metricsNamespace = sub("wsapi/${AWS::StackName}", nil)

// xrayStatement is what active tracing grants: X-Ray takes no resource.
var xrayStatement = map[string]any{
	"Action": []any{"xray:PutTelemetryRecords", "xray:PutTraceSegments"}, "Effect": "Allow", "Resource": "*",
}

func functionSpecs(s *synthesized, t *testing.T) []functionSpec {
	tableID, _ := s.resource(t, "AWS::DynamoDB::Table", "Connections")
	jobsID, _ := s.resource(t, "AWS::DynamoDB::Table", "Jobs")
	queueID, _ := s.resource(t, "AWS::SQS::Queue", "FanOutQueue")
	queue := getAtt(queueID, "Arn")
	poolID, _ := s.resource(t, "AWS::Cognito::UserPool", "UserPool")
	clientID, _ := s.resource(t, "AWS::Cognito::UserPoolClient", "UserPoolCliClient")
	issuer := join("https://", getAtt(poolID, "ProviderURL"))
	table := getAtt(tableID, "Arn")
	accountARN := sub("arn:${AWS::Partition}:apigateway:${AWS::Region}::/account", nil)
	logRoleARN := sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/APIGatewayPushToCloudWatchLogs", nil)
	return []functionSpec{
		{
			name: "AuthorizerFunction", memory: 256, timeout: 10,
			env: map[string]any{
				"ISSUER_URL":        issuer,
				"AUDIENCE":          ref(clientID),
				"JWKS_URL":          join("https://", getAtt(poolID, "ProviderURL"), "/.well-known/jwks.json"),
				"IDENTITY_SOURCE":   "route.request.querystring.token",
				"ALLOWED_TOKEN_USE": "access",
				"METRICS_NAMESPACE": metricsNamespace,
			},
			statements: []any{xrayStatement}, // no data access at all
			traced:     true,
		},
		{
			name: "ConnectFunction", memory: 128, timeout: 10,
			env: map[string]any{"TABLE_NAME": ref(tableID), "CONNECTION_TTL_SECONDS": "7200", "METRICS_NAMESPACE": metricsNamespace},
			statements: []any{
				xrayStatement,
				map[string]any{"Action": "dynamodb:PutItem", "Effect": "Allow", "Resource": table},
			},
			traced: true,
		},
		{
			name: "DisconnectFunction", memory: 128, timeout: 10,
			env: map[string]any{"TABLE_NAME": ref(tableID), "METRICS_NAMESPACE": metricsNamespace},
			statements: []any{
				xrayStatement,
				map[string]any{"Action": "dynamodb:DeleteItem", "Effect": "Allow", "Resource": table},
			},
			traced: true,
		},
		{
			name: "MessageFunction", memory: 512, timeout: 25,
			env: map[string]any{
				"TABLE_NAME":           ref(tableID),
				"PRINCIPAL_INDEX_NAME": "byPrincipal",
				"CONNECTIONS_ENDPOINT": stageURL("https", "prod"),
				"MAX_MESSAGE_BYTES":    "32768",
				"MAX_IN_FLIGHT":        "16",
				"FANOUT_QUEUE_URL":     ref(queueID),
				"METRICS_NAMESPACE":    metricsNamespace,
			},
			// Broadcasts go to the queue: no Scan any more. Direct
			// messages query the principal's connections.
			statements: []any{
				xrayStatement,
				map[string]any{"Action": "dynamodb:DeleteItem", "Effect": "Allow", "Resource": table},
				map[string]any{"Action": "dynamodb:Query", "Effect": "Allow", "Resource": sub("${Table}/index/byPrincipal", map[string]any{"Table": table})},
				map[string]any{"Action": "execute-api:ManageConnections", "Effect": "Allow", "Resource": executeAPIARN("prod/POST/@connections/*")},
				map[string]any{"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": queue},
			},
			traced: true,
		},
		{
			name: "FanoutFunction", memory: 512, timeout: 60,
			env: map[string]any{
				"TABLE_NAME":              ref(tableID),
				"JOBS_TABLE_NAME":         ref(jobsID),
				"CONNECTIONS_ENDPOINT":    stageURL("https", "prod"),
				"FANOUT_QUEUE_URL":        ref(queueID),
				"FANOUT_SEGMENTS":         "0",
				"CONNECTIONS_PER_SEGMENT": "5000",
				"MAX_SEGMENTS":            "100",
				"WORKER_POSTS_PER_SECOND": "100",
				"WORKER_POST_BURST":       "100",
				"MAX_IN_FLIGHT":           "16",
				"JOB_TTL_SECONDS":         "86400",
				"FANOUT_PAGE_SIZE":        "1000",
				"METRICS_NAMESPACE":       metricsNamespace,
			},
			statements: []any{
				xrayStatement,
				// The segment scan, gone rows, and ItemCount for the split:
				// on the table, not its index.
				map[string]any{"Action": []any{"dynamodb:DeleteItem", "dynamodb:DescribeTable", "dynamodb:Scan"}, "Effect": "Allow", "Resource": table},
				map[string]any{"Action": []any{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}, "Effect": "Allow", "Resource": getAtt(jobsID, "Arn")},
				// Its own SendMessage(Batch) and ChangeMessageVisibility, and
				// what the event source mapping calls with the role.
				map[string]any{"Action": []any{"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:SendMessage"},
					"Effect": "Allow", "Resource": queue},
				map[string]any{"Action": "execute-api:ManageConnections", "Effect": "Allow", "Resource": executeAPIARN("prod/POST/@connections/*")},
			},
			traced: true,
		},
		{
			// Sets API Gateway's account-level logging role when there is none.
			name: "ApigwaccountFunction", memory: 128, timeout: 300,
			statements: []any{
				map[string]any{"Action": []any{"apigateway:GET", "apigateway:PATCH"}, "Effect": "Allow", "Resource": accountARN},
				map[string]any{"Action": []any{"iam:CreateRole", "iam:GetRole"}, "Effect": "Allow", "Resource": logRoleARN},
				map[string]any{"Action": "iam:AttachRolePolicy", "Effect": "Allow", "Resource": logRoleARN, "Condition": map[string]any{
					"ArnEquals": map[string]any{"iam:PolicyARN": sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs", nil)},
				}},
				map[string]any{"Action": "iam:PassRole", "Effect": "Allow", "Resource": logRoleARN, "Condition": map[string]any{
					"StringEquals": map[string]any{"iam:PassedToService": "apigateway.amazonaws.com"},
				}},
			},
		},
	}
}

func TestFunctions(t *testing.T) {
	s := defaultStack(t)
	cdkAssert(t, "six functions", func() {
		s.template.ResourceCountIs(jsii.String("AWS::Lambda::Function"), jsii.Number(6))
	})
	for _, spec := range functionSpecs(s, t) {
		t.Run(spec.name, func(t *testing.T) {
			_, fn := s.resource(t, "AWS::Lambda::Function", spec.name)
			p := props(fn)
			base := strings.TrimSuffix(spec.name, "Function")
			logsID, logs := s.resource(t, "AWS::Logs::LogGroup", base+"Logs")
			roleID, _ := s.resource(t, "AWS::IAM::Role", base+"Role")
			equalJSON(t, "runtime, architecture, handler, memory, timeout",
				[]any{p["Runtime"], p["Architectures"], p["Handler"], p["MemorySize"], p["Timeout"]},
				[]any{"provided.al2023", []any{"arm64"}, "bootstrap", spec.memory, spec.timeout})
			equalJSON(t, "logging", p["LoggingConfig"], map[string]any{
				"LogFormat": "JSON", "LogGroup": ref(logsID), "ApplicationLogLevel": "INFO", "SystemLogLevel": "WARN",
			})
			equalJSON(t, "log retention", props(logs)["RetentionInDays"], 30)
			equalJSON(t, "role", p["Role"], getAtt(roleID, "Arn"))
			if spec.traced {
				equalJSON(t, "tracing", p["TracingConfig"], map[string]any{"Mode": "Active"})
			} else {
				equalJSON(t, "tracing", p["TracingConfig"], nil)
			}
			if spec.env == nil {
				equalJSON(t, "environment", p["Environment"], nil)
			} else {
				equalJSON(t, "environment", p["Environment"], map[string]any{"Variables": spec.env})
			}
			code, _ := p["Code"].(map[string]any)
			if key, _ := code["S3Key"].(string); !strings.HasSuffix(key, ".zip") || len(key) != 64+len(".zip") {
				t.Errorf("code S3Key %q: want the asset's output hash", key)
			}
		})
	}
	// Local runs build for the host; the prop reaches every function.
	for id, fn := range externalStack(t).resources("AWS::Lambda::Function") {
		equalJSON(t, id+" architecture", props(fn)["Architectures"], []any{"x86_64"})
	}
}

// TestIAMLeastPrivilege checks every statement of every function role,
// exactly: a new permission must be added here on purpose.
func TestIAMLeastPrivilege(t *testing.T) {
	s := defaultStack(t)
	policies := s.resources("AWS::IAM::Policy")
	for _, spec := range functionSpecs(s, t) {
		t.Run(spec.name, func(t *testing.T) {
			base := strings.TrimSuffix(spec.name, "Function")
			roleID, role := s.resource(t, "AWS::IAM::Role", base+"Role")
			logsID, _ := s.resource(t, "AWS::Logs::LogGroup", base+"Logs")
			if mp := props(role)["ManagedPolicyArns"]; mp != nil {
				t.Errorf("function role has managed policies: %v", asJSON(mp))
			}
			equalJSON(t, "trust", props(role)["AssumeRolePolicyDocument"].(map[string]any)["Statement"],
				[]any{map[string]any{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": map[string]any{"Service": "lambda.amazonaws.com"}}})
			var statements []any
			for _, pol := range policies {
				if asJSON(props(pol)["Roles"]) == asJSON([]any{ref(roleID)}) {
					statements = append(statements, props(pol)["PolicyDocument"].(map[string]any)["Statement"].([]any)...)
				}
			}
			want := append([]any{map[string]any{
				"Action": []any{"logs:CreateLogStream", "logs:PutLogEvents"}, "Effect": "Allow", "Resource": getAtt(logsID, "Arn"),
			}}, spec.statements...)
			equalJSON(t, "statements", statements, want)
		})
	}
	// Nowhere a wildcard action, nowhere a FullAccess policy.
	for id, pol := range policies {
		for _, st := range props(pol)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			for _, a := range actions(st.(map[string]any)["Action"]) {
				if strings.Contains(a, "*") {
					t.Errorf("%s grants wildcard action %s", id, a)
				}
			}
		}
	}
	for id, role := range s.resources("AWS::IAM::Role") {
		if strings.Contains(asJSON(props(role)["ManagedPolicyArns"]), "FullAccess") {
			t.Errorf("%s uses a FullAccess managed policy", id)
		}
	}
}

func actions(v any) []string {
	switch a := v.(type) {
	case string:
		return []string{a}
	case []any:
		out := make([]string, 0, len(a))
		for _, x := range a {
			out = append(out, x.(string))
		}
		return out
	}
	return nil
}

func TestInvokePermissions(t *testing.T) {
	s := defaultStack(t)
	want := map[string][]any{
		"AuthorizerFunction": {join("arn:", ref("AWS::Partition"), ":execute-api:", ref("AWS::Region"), ":",
			ref("AWS::AccountId"), ":", ref("WebSocketApi"), "/authorizers/", ref("Authorizer"))},
		"ConnectFunction":    {executeAPIARN("prod/$connect")},
		"DisconnectFunction": {executeAPIARN("prod/$disconnect")},
		"MessageFunction":    {executeAPIARN("prod/sendmessage"), executeAPIARN("prod/$default")},
	}
	permissions := s.resources("AWS::Lambda::Permission")
	total := 0
	for prefix, arns := range want {
		fnID, _ := s.resource(t, "AWS::Lambda::Function", prefix)
		var got []any
		for _, perm := range permissions {
			p := props(perm)
			if asJSON(p["FunctionName"]) != asJSON(getAtt(fnID, "Arn")) {
				continue
			}
			equalJSON(t, prefix+" permission", []any{p["Action"], p["Principal"]}, []any{"lambda:InvokeFunction", "apigateway.amazonaws.com"})
			got = append(got, p["SourceArn"])
		}
		total += len(got)
		equalJSON(t, prefix+" source ARNs", sortedJSON(got), sortedJSON(arns))
	}
	if total != len(permissions) {
		t.Errorf("%d permissions, %d expected", len(permissions), total)
	}
}

func TestNoHardCodedDomain(t *testing.T) {
	// Service principals are names, not endpoints; every URL must use
	// AWS::URLSuffix and every ARN AWS::Partition, so that other partitions
	// work, also when the stack has an explicit region.
	for name, s := range variants(t) {
		text := strings.NewReplacer("apigateway.amazonaws.com", "", "lambda.amazonaws.com", "", "cloudwatch.amazonaws.com", "").Replace(string(s.raw))
		if strings.Contains(text, "amazonaws.com") {
			t.Errorf("%s: the template hard-codes amazonaws.com; build URLs with AWS::URLSuffix", name)
		}
		if strings.Contains(text, "arn:aws:") {
			t.Errorf("%s: the template hard-codes the aws partition; use AWS::Partition", name)
		}
	}
}

func TestOutputs(t *testing.T) {
	s := defaultStack(t)
	outputs := s.json["Outputs"].(map[string]any)
	poolID, _ := s.resource(t, "AWS::Cognito::UserPool", "UserPool")
	clientID, _ := s.resource(t, "AWS::Cognito::UserPoolClient", "UserPoolCliClient")
	tableID, _ := s.resource(t, "AWS::DynamoDB::Table", "Connections")
	queueID, _ := s.resource(t, "AWS::SQS::Queue", "FanOutQueue")
	dlqID, _ := s.resource(t, "AWS::SQS::Queue", "FanOutDeadLetterQueue")
	jobsID, _ := s.resource(t, "AWS::DynamoDB::Table", "Jobs")
	want := map[string]any{
		"WebSocketURL":             stageURL("wss", "prod"),
		"ConnectionsEndpoint":      stageURL("https", "prod"),
		"TableName":                ref(tableID),
		"FanOutQueueURL":           ref(queueID),
		"FanOutDeadLetterQueueURL": ref(dlqID),
		"JobsTableName":            ref(jobsID),
		"UserPoolId":               ref(poolID),
		"UserPoolClientId":         ref(clientID),
		"WscatCommand": sub(`npx wscat -c "wss://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/prod?token=$TOKEN"`,
			map[string]any{"Api": ref("WebSocketApi")}),
	}
	if len(outputs) != len(want) {
		t.Errorf("outputs %v, want %v", slices.Sorted(maps.Keys(outputs)), slices.Sorted(maps.Keys(want)))
	}
	for name, value := range want {
		out, ok := outputs[name].(map[string]any)
		if !ok {
			t.Errorf("missing output %s", name)
			continue
		}
		equalJSON(t, name, out["Value"], value)
	}
}

// TestExternalIssuer: with an external OIDC issuer no user pool exists and
// the authorizer trusts exactly what the props say.
func TestExternalIssuer(t *testing.T) {
	s := externalStack(t)
	for _, typ := range []string{"AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient", "AWS::ApiGateway::Account", "Custom::ApiGatewayCloudWatchRole"} {
		if n := len(s.resources(typ)); n != 0 {
			t.Errorf("%d %s, want none", n, typ)
		}
	}
	_, fn := s.resource(t, "AWS::Lambda::Function", "AuthorizerFunction")
	equalJSON(t, "authorizer environment", props(fn)["Environment"], map[string]any{"Variables": map[string]any{
		"ISSUER_URL":      "https://login.example.com/tenant",
		"AUDIENCE":        "api://chat",
		"IDENTITY_SOURCE": "route.request.header.Authorization",
		// No token_use list with an external issuer: the check is off.
		"ALLOWED_TOKEN_USE": "*",
		"METRICS_NAMESPACE": metricsNamespace,
	}})
	_, stage := s.resource(t, "AWS::ApiGatewayV2::Stage", "Stage")
	equalJSON(t, "stage", []any{props(stage)["StageName"], props(stage)["DefaultRouteSettings"], stage["DependsOn"]},
		[]any{"live", map[string]any{"ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 25, "DataTraceEnabled": false},
			[]any{"ConnectRoute", "DefaultRoute", "DisconnectRoute", "SendMessageRoute"}})
	outputs := s.json["Outputs"].(map[string]any)
	for _, gone := range []string{"UserPoolId", "UserPoolClientId"} {
		if _, ok := outputs[gone]; ok {
			t.Errorf("output %s without a user pool", gone)
		}
	}
	equalJSON(t, "wscat with a header", outputs["WscatCommand"].(map[string]any)["Value"],
		sub(`npx wscat -H "Authorization: Bearer $TOKEN" -c "wss://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/live"`,
			map[string]any{"Api": ref("WebSocketApi")}))
	_, policy := s.resource(t, "AWS::IAM::Policy", "MessageRoleDefaultPolicy")
	if !strings.Contains(asJSON(policy), "/live/POST/@connections/*") {
		t.Error("ManageConnections is not scoped to the configured stage")
	}
}

// sortedJSON orders values by their JSON text, for order-free comparisons.
func sortedJSON(values []any) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = asJSON(v)
	}
	sort.Strings(out)
	return out
}

// TestHeaderIdentityVariant: the props of the header variant reach the
// authorizer and the account logging role's custom resource.
func TestHeaderIdentityVariant(t *testing.T) {
	s := headerStack(t)
	_, fn := s.resource(t, "AWS::Lambda::Function", "AuthorizerFunction")
	env := props(fn)["Environment"].(map[string]any)["Variables"].(map[string]any)
	equalJSON(t, "identity source and token_use", []any{env["IDENTITY_SOURCE"], env["ALLOWED_TOKEN_USE"]},
		[]any{"route.request.header.Authorization", "access,id"})
	_, setting := s.resource(t, "Custom::ApiGatewayCloudWatchRole", "ApiGatewayCloudWatchRoleSetting")
	equalJSON(t, "role name and path", []any{props(setting)["RoleName"], props(setting)["RolePath"]},
		[]any{"ChatApiGatewayLogs", "/service-role/"})
	_, policy := s.resource(t, "AWS::IAM::Policy", "ApigwaccountRoleDefaultPolicy")
	if !strings.Contains(asJSON(policy), ":role/service-role/ChatApiGatewayLogs") {
		t.Errorf("the custom resource's IAM grants do not name the configured role: %s", asJSON(policy))
	}
}
