package websocketapi

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53targets"
	"github.com/aws/jsii-runtime-go"
)

// A custom domain for the API (props DomainName, CertificateARN and,
// optionally, a Route 53 hosted zone): an AWS::ApiGatewayV2::DomainName, an
// API mapping of the domain's root to the stage, and an alias A record in
// the zone when one is given.
//
// What API Gateway allows for WebSocket APIs
// (websocket-api-custom-domain-names, websocket-api-mappings): Regional
// custom domain names only (so the ACM certificate is in the API's Region),
// TLS 1.2 as the only minimum TLS version, and a domain mapped to a
// WebSocket API cannot also be mapped to a REST or HTTP API.
//
// The mapping has no API mapping key: the domain's root is the stage, and
// clients connect to wss://<DomainName>. The domain therefore serves this
// one stage.
//
// The @connections endpoint (ConnectionsEndpoint, the message function's
// CONNECTIONS_ENDPOINT) stays on execute-api. Through a custom domain the
// Management API's URL must carry the mapping's base path instead of the
// stage, and SigV4-signed calls built from the custom domain the usual way
// (domain + "/" + stage) fail with 403 Forbidden or "No method found
// matching route": serverless/serverless-websockets-plugin#6,
// aws/aws-sdk-net#1860, aws-samples/simple-websockets-chat-app#40,
// amplify-education/serverless-domain-manager#390. The execute-api URL
// works whatever the domain's mappings are.

// customDomain is what addDomain defines; all nil without a domain.
type customDomain struct {
	domain  awsapigatewayv2.CfnDomainName
	mapping awsapigatewayv2.CfnApiMapping
	record  awsroute53.ARecord
}

var (
	// domainNamePattern: a lowercase DNS name of two or more labels, each
	// 1-63 letters, digits or '-', not starting or ending with '-' (RFC
	// 1035, as websocket-api-custom-domain-names requires).
	domainNamePattern = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	// certificateARNPattern: an ACM certificate; group 1 is its Region.
	certificateARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:acm:([a-z]{2}(-[a-z]+)+-\d):\d{12}:certificate/[A-Za-z0-9-]{1,128}$`)
	// hostedZoneIDPattern: a Route 53 hosted zone id, e.g. Z0123456789ABCDEFGHIJ.
	hostedZoneIDPattern = regexp.MustCompile(`^[A-Z0-9]{1,32}$`)
)

// validateDomain checks the custom domain props, reporting through bad.
func (p WebSocketAPIProps) validateDomain(bad func(format string, args ...any)) {
	zoneGiven := p.HostedZone != nil || p.HostedZoneID != "" || p.HostedZoneName != ""
	if p.DomainName == "" {
		if p.CertificateARN != "" {
			bad("CertificateARN: only used with DomainName")
		}
		if zoneGiven {
			bad("HostedZone, HostedZoneID, HostedZoneName: only used with DomainName")
		}
		return
	}
	switch {
	case len(p.DomainName) > 253:
		bad("DomainName %q: longer than 253 characters", p.DomainName)
	case strings.Contains(p.DomainName, "*"):
		bad("DomainName %q: a wildcard name gives clients no URL to connect to; name one host (a wildcard certificate may cover it)", p.DomainName)
	case !domainNamePattern.MatchString(p.DomainName):
		bad("DomainName %q: want a lowercase DNS name such as chat.example.com (labels of letters, digits and '-', no trailing dot)", p.DomainName)
	}
	if p.CertificateARN == "" {
		bad("CertificateARN: required with DomainName (an ACM certificate for it, in the API's Region)")
	} else if !certificateARNPattern.MatchString(p.CertificateARN) {
		bad("CertificateARN %q: want an ACM certificate ARN, arn:<partition>:acm:<region>:<account>:certificate/<id>", p.CertificateARN)
	}
	if p.HostedZone != nil && (p.HostedZoneID != "" || p.HostedZoneName != "") {
		bad("HostedZone and HostedZoneID/HostedZoneName: set one or the other")
	}
	if (p.HostedZoneID == "") != (p.HostedZoneName == "") {
		bad("HostedZoneID and HostedZoneName: set both (the zone is imported by its id and name) or neither")
	}
	if p.HostedZoneID != "" && !hostedZoneIDPattern.MatchString(p.HostedZoneID) {
		bad("HostedZoneID %q: want a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ", p.HostedZoneID)
	}
	zoneName := strings.TrimSuffix(p.HostedZoneName, ".")
	if p.HostedZoneName != "" && !domainNamePattern.MatchString(zoneName) {
		bad("HostedZoneName %q: want a lowercase DNS name such as example.com", p.HostedZoneName)
	}
	if p.HostedZone != nil {
		name, err := hostedZoneName(p.HostedZone)
		switch {
		case err != nil:
			bad("HostedZone: its name must be known for the alias record (import it with HostedZone_FromHostedZoneAttributes, not FromHostedZoneId): %v", err)
		case name != nil && !*awscdk.Token_IsUnresolved(name):
			zoneName = strings.TrimSuffix(*name, ".")
		}
	}
	if zoneName != "" && p.DomainName != zoneName && !strings.HasSuffix(p.DomainName, "."+zoneName) {
		bad("DomainName %q is not in the hosted zone %q: the alias record must be the domain itself or a name under the zone", p.DomainName, zoneName)
	}
}

// hostedZoneName is the zone's name; a zone imported by id alone throws
// when asked.
func hostedZoneName(zone awsroute53.IHostedZone) (name *string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return zone.ZoneName(), nil
}

// certificateRegion is the Region of a valid CertificateARN.
func certificateRegion(arn string) string {
	if m := certificateARNPattern.FindStringSubmatch(arn); m != nil {
		return m[1]
	}
	return ""
}

// checkDomainRegion panics, before any resource is defined, when the
// certificate is in another Region than the stack: a Regional custom domain
// needs a certificate of its own Region. The props alone cannot tell; the
// stack can when its env names the Region (otherwise CloudFormation refuses
// the certificate at deploy time).
func (b *builder) checkDomainRegion(id string) {
	if b.props.DomainName == "" {
		return
	}
	if region := b.stack.Region(); region != nil && !*awscdk.Token_IsUnresolved(region) {
		if certRegion := certificateRegion(b.props.CertificateARN); certRegion != *region {
			panic(fmt.Sprintf("NewWebSocketAPI %s: invalid props:\nCertificateARN %q: the certificate is in %s, the stack in %s; a Regional custom domain needs a certificate in the stack's Region",
				id, b.props.CertificateARN, certRegion, *region))
		}
	}
}

// addDomain defines the custom domain, its mapping to the stage and the
// alias record, when the props name a domain.
func (b *builder) addDomain() {
	p := b.props
	if p.DomainName == "" {
		return
	}
	b.domain.domain = awsapigatewayv2.NewCfnDomainName(b.Construct, jsii.String("CustomDomain"), &awsapigatewayv2.CfnDomainNameProps{
		DomainName: jsii.String(p.DomainName),
		DomainNameConfigurations: &[]any{&awsapigatewayv2.CfnDomainName_DomainNameConfigurationProperty{
			CertificateArn: jsii.String(p.CertificateARN),
			EndpointType:   jsii.String("REGIONAL"),
			SecurityPolicy: jsii.String("TLS_1_2"),
		}},
	})
	b.domain.mapping = awsapigatewayv2.NewCfnApiMapping(b.Construct, jsii.String("CustomDomainMapping"), &awsapigatewayv2.CfnApiMappingProps{
		ApiId:      b.api.Ref(),
		DomainName: b.domain.domain.Ref(),
		Stage:      jsii.String(b.stageName),
	})
	// The stage is named, not referenced: the mapping must wait for it.
	b.domain.mapping.Node().AddDependency(b.stage)

	zone := p.HostedZone
	if zone == nil && p.HostedZoneID != "" {
		zone = awsroute53.HostedZone_FromHostedZoneAttributes(b.Construct, jsii.String("HostedZone"), &awsroute53.HostedZoneAttributes{
			HostedZoneId: jsii.String(p.HostedZoneID),
			ZoneName:     jsii.String(strings.TrimSuffix(p.HostedZoneName, ".")),
		})
	}
	if zone != nil {
		b.domain.record = awsroute53.NewARecord(b.Construct, jsii.String("CustomDomainAliasRecord"), &awsroute53.ARecordProps{
			Zone:       zone,
			RecordName: jsii.String(p.DomainName + "."),
			Target: awsroute53.RecordTarget_FromAlias(awsroute53targets.NewApiGatewayv2DomainProperties(
				b.domain.domain.AttrRegionalDomainName(), b.domain.domain.AttrRegionalHostedZoneId())),
			Comment: jsii.String("WebSocket API custom domain"),
		})
	}
}

// domainURL is wss://<DomainName> with a custom domain (the mapping is the
// domain's root), nil without.
func (b *builder) domainURL() *string {
	if b.domain.domain == nil {
		return nil
	}
	return jsii.String("wss://" + b.props.DomainName)
}

// DomainName is the custom domain (AWS::ApiGatewayV2::DomainName), nil
// without the DomainName prop. Its AttrRegionalDomainName and
// AttrRegionalHostedZoneId are the target of a DNS alias of your own.
func (w *WebSocketAPI) DomainName() awsapigatewayv2.CfnDomainName { return w.b.domain.domain }

// APIMapping maps the custom domain's root to the stage; nil without a
// custom domain.
func (w *WebSocketAPI) APIMapping() awsapigatewayv2.CfnApiMapping { return w.b.domain.mapping }

// AliasRecord is the Route 53 alias A record of the custom domain; nil
// without a hosted zone.
func (w *WebSocketAPI) AliasRecord() awsroute53.ARecord { return w.b.domain.record }
