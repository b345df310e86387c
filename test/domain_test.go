package test

import (
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/jsii-runtime-go"

	"wsapi/stacks"
	"wsapi/websocketapi"
)

const (
	domainCertificateARN = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
	domainZoneID         = "Z0123456789ABCDEFGHIJ"
)

// domainProps give the app's stack a custom domain with a hosted zone (the
// context keys domainName, certificateArn, hostedZoneId, hostedZoneName),
// in an explicit env whose Region is the certificate's.
var domainProps = stacks.WebSocketStackProps{StackProps: awscdk.StackProps{
	Env: &awscdk.Environment{Account: jsii.String("123456789012"), Region: jsii.String("eu-west-1")},
}, WebSocketAPIProps: websocketapi.WebSocketAPIProps{
	DomainName:     "chat.example.com",
	CertificateARN: domainCertificateARN,
	HostedZoneID:   domainZoneID,
	HostedZoneName: "example.com",
}}

var (
	domainOnce  sync.Once
	domainSynth *synthesized

	domainNoZoneOnce  sync.Once
	domainNoZoneSynth *synthesized
	domainNoZoneAPI   *websocketapi.WebSocketAPI
)

// domainStack is not one of variants(t): its certificate ARN and record
// name are literals by design, which TestNoHardCodedDomain and
// TestNoFixedPhysicalNames refuse; cdk-nag and cfn-lint run on it here.
func domainStack(t *testing.T) *synthesized {
	t.Helper()
	domainOnce.Do(func() { domainSynth = synth(domainProps) })
	return domainSynth
}

// domainNoZoneStack is the construct used as a library, with a domain and
// no zone, in a stack without env (the Region is a token).
func domainNoZoneStack(t *testing.T) *synthesized {
	t.Helper()
	domainNoZoneOnce.Do(func() {
		app := awscdk.NewApp(&awscdk.AppProps{Context: cdkJSONContext()})
		stack := awscdk.NewStack(app, jsii.String("Platform"), nil)
		domainNoZoneAPI = websocketapi.NewWebSocketAPI(stack, "Chat", &websocketapi.WebSocketAPIProps{
			ModuleDir: "..", DomainName: "ws.example.net", CertificateARN: domainCertificateARN,
		})
		template := assertions.Template_FromStack(stack, nil)
		domainNoZoneSynth = &synthesized{stack: stack, template: template, json: *template.ToJSON()}
	})
	return domainNoZoneSynth
}

func TestCustomDomain(t *testing.T) {
	s := domainStack(t)
	domainID, domain := s.resource(t, "AWS::ApiGatewayV2::DomainName", "CustomDomain")
	equalJSON(t, "DomainName properties", props(domain), map[string]any{
		"DomainName": "chat.example.com",
		"DomainNameConfigurations": []any{map[string]any{
			"CertificateArn": domainCertificateARN,
			"EndpointType":   "REGIONAL",
			"SecurityPolicy": "TLS_1_2",
		}},
	})

	stageID, _ := s.resource(t, "AWS::ApiGatewayV2::Stage", "Stage")
	_, mapping := s.resource(t, "AWS::ApiGatewayV2::ApiMapping", "CustomDomainMapping")
	equalJSON(t, "ApiMapping properties", props(mapping), map[string]any{
		"ApiId":      ref("WebSocketApi"),
		"DomainName": ref(domainID),
		"Stage":      "prod",
	})
	equalJSON(t, "ApiMapping DependsOn", mapping["DependsOn"], []any{stageID})

	_, record := s.resource(t, "AWS::Route53::RecordSet", "CustomDomainAliasRecord")
	equalJSON(t, "alias record properties", props(record), map[string]any{
		"Name":         "chat.example.com.",
		"Type":         "A",
		"HostedZoneId": domainZoneID,
		"Comment":      "WebSocket API custom domain",
		"AliasTarget": map[string]any{
			"DNSName":      getAtt(domainID, "RegionalDomainName"),
			"HostedZoneId": getAtt(domainID, "RegionalHostedZoneId"),
		},
	})

	outputs := s.json["Outputs"].(map[string]any)
	value := func(name string) any { return outputs[name].(map[string]any)["Value"] }
	equalJSON(t, "WebSocketURL", value("WebSocketURL"), "wss://chat.example.com")
	equalJSON(t, "WscatCommand", value("WscatCommand"), `npx wscat -c "wss://chat.example.com?token=$TOKEN"`)
	// The @connections API stays on execute-api (websocketapi/domain.go).
	equalJSON(t, "ConnectionsEndpoint", value("ConnectionsEndpoint"), stageURL("https", "prod"))
	_, message := s.resource(t, "AWS::Lambda::Function", "MessageFunction")
	env := props(message)["Environment"].(map[string]any)["Variables"].(map[string]any)
	equalJSON(t, "CONNECTIONS_ENDPOINT", env["CONNECTIONS_ENDPOINT"], stageURL("https", "prod"))
	_, fanout := s.resource(t, "AWS::Lambda::Function", "FanoutFunction")
	fanoutEnv := props(fanout)["Environment"].(map[string]any)["Variables"].(map[string]any)
	equalJSON(t, "fanout CONNECTIONS_ENDPOINT", fanoutEnv["CONNECTIONS_ENDPOINT"], stageURL("https", "prod"))
}

// TestCustomDomainAddsOnlyItsResources: the domain adds its three
// resources and keeps every logical ID of the default stack.
func TestCustomDomainAddsOnlyItsResources(t *testing.T) {
	withDomain := domainStack(t).json["Resources"].(map[string]any)
	without := defaultStack(t).json["Resources"].(map[string]any)
	added := map[string]int{}
	for id, r := range withDomain {
		if _, ok := without[id]; !ok {
			added[r.(map[string]any)["Type"].(string)]++
		}
	}
	for id := range without {
		if _, ok := withDomain[id]; !ok {
			t.Errorf("resource %s is gone with a custom domain", id)
		}
	}
	equalJSON(t, "resources added by the domain", added, map[string]int{
		"AWS::ApiGatewayV2::DomainName": 1, "AWS::ApiGatewayV2::ApiMapping": 1, "AWS::Route53::RecordSet": 1,
	})
}

func TestCustomDomainWithoutZone(t *testing.T) {
	s := domainNoZoneStack(t)
	if n := len(s.resources("AWS::Route53::RecordSet")); n != 0 {
		t.Errorf("%d record sets without a hosted zone, want none", n)
	}
	if n := len(s.resources("AWS::ApiGatewayV2::ApiMapping")); n != 1 {
		t.Errorf("%d API mappings, want 1", n)
	}
	if domainNoZoneAPI.DomainName() == nil || domainNoZoneAPI.AliasRecord() != nil {
		t.Error("DomainName() should be set and AliasRecord() nil")
	}
	if got := *domainNoZoneAPI.URL(); got != "wss://ws.example.net" {
		t.Errorf("URL() = %q", got)
	}
	if got := asJSON(awscdk.Stack_Of(domainNoZoneAPI.Construct()).Resolve(domainNoZoneAPI.ConnectionsEndpoint())); !strings.Contains(got, ".execute-api.") {
		t.Errorf("ConnectionsEndpoint = %q, want the execute-api URL", got)
	}
}

func TestCustomDomainCertificateInAnotherRegion(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "the certificate is in eu-west-1, the stack in us-east-1") {
			t.Errorf("panic = %v, want one naming both Regions", r)
		}
	}()
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Elsewhere"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String("123456789012"), Region: jsii.String("us-east-1")},
	})
	websocketapi.NewWebSocketAPI(stack, "Chat", &websocketapi.WebSocketAPIProps{
		ModuleDir: "..", DomainName: "chat.example.com", CertificateARN: domainCertificateARN,
	})
}

func TestCustomDomainWithZoneOfALibraryUser(t *testing.T) {
	// A hosted zone whose name is known is checked against the domain.
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), `not in the hosted zone "example.org"`) {
			t.Errorf("panic = %v, want the zone mismatch", r)
		}
	}()
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Zoned"), nil)
	zone := awsroute53.HostedZone_FromHostedZoneAttributes(stack, jsii.String("Zone"), &awsroute53.HostedZoneAttributes{
		HostedZoneId: jsii.String(domainZoneID), ZoneName: jsii.String("example.org"),
	})
	websocketapi.NewWebSocketAPI(stack, "Chat", &websocketapi.WebSocketAPIProps{
		ModuleDir: "..", DomainName: "chat.example.com", CertificateARN: domainCertificateARN, HostedZone: zone,
	})
}

func TestCustomDomainWithZoneImportedByID(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "HostedZone: its name must be known") {
			t.Errorf("panic = %v, want one saying the zone's name is needed", r)
		}
	}()
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("ZoneByID"), nil)
	websocketapi.NewWebSocketAPI(stack, "Chat", &websocketapi.WebSocketAPIProps{
		ModuleDir: "..", DomainName: "chat.example.com", CertificateARN: domainCertificateARN,
		HostedZone: awsroute53.HostedZone_FromHostedZoneId(stack, jsii.String("Zone"), jsii.String(domainZoneID)),
	})
}

// TestCustomDomainNagAndLint: cdk-nag stays clean and cfn-lint finds
// nothing on the domain variant, as TestCDKNag and TestCfnLint require of
// variants(t).
func TestCustomDomainNagAndLint(t *testing.T) {
	s := domainStack(t)
	assertNagClean(t, s)
	lintTemplates(t, map[string]*synthesized{"custom-domain": s})
}
