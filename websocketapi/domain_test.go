package websocketapi

import (
	"strings"
	"testing"
)

func TestValidateDomain(t *testing.T) {
	const cert = "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
	cases := []struct {
		name  string
		props WebSocketAPIProps
		want  []string // substrings of the error; none: valid
	}{
		{name: "none", props: WebSocketAPIProps{}},
		{name: "domain and certificate", props: WebSocketAPIProps{DomainName: "chat.example.com", CertificateARN: cert}},
		{name: "zone apex", props: WebSocketAPIProps{DomainName: "example.com", CertificateARN: cert, HostedZoneID: "Z0123", HostedZoneName: "example.com."}},
		{name: "China partition", props: WebSocketAPIProps{DomainName: "chat.example.cn", CertificateARN: "arn:aws-cn:acm:cn-north-1:123456789012:certificate/abc"}},
		{name: "upper case", props: WebSocketAPIProps{DomainName: "Chat.example.com", CertificateARN: cert}, want: []string{"lowercase DNS name"}},
		{name: "one label", props: WebSocketAPIProps{DomainName: "localhost", CertificateARN: cert}, want: []string{"DomainName"}},
		{name: "trailing dot", props: WebSocketAPIProps{DomainName: "chat.example.com.", CertificateARN: cert}, want: []string{"no trailing dot"}},
		{name: "label with a leading hyphen", props: WebSocketAPIProps{DomainName: "-chat.example.com", CertificateARN: cert}, want: []string{"DomainName"}},
		{name: "wildcard", props: WebSocketAPIProps{DomainName: "*.example.com", CertificateARN: cert}, want: []string{"wildcard"}},
		{name: "every problem at once", props: WebSocketAPIProps{
			DomainName: "chat.example.org", CertificateARN: "arn:aws:acm:eu-west-1:1234:certificate/x",
			HostedZoneID: "/hostedzone/Z1", HostedZoneName: "example.com",
		}, want: []string{"CertificateARN", "HostedZoneID \"/hostedzone/Z1\"", "not in the hosted zone"}},
		{name: "zone name alone", props: WebSocketAPIProps{DomainName: "chat.example.com", CertificateARN: cert, HostedZoneName: "example.com"},
			want: []string{"HostedZoneID and HostedZoneName"}},
		{name: "zone without domain", props: WebSocketAPIProps{HostedZoneID: "Z1", HostedZoneName: "example.com"},
			want: []string{"only used with DomainName"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.props.Validate()
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if got := certificateRegion(cert); got != "eu-west-1" {
		t.Errorf("certificateRegion = %q", got)
	}
}
