// Package awsconfig is the part of the cold start (see package boot) that
// the functions calling AWS share: loading the SDK's configuration. It is
// apart from boot so that a function that calls no AWS API, the authorizer,
// does not link the SDK.
package awsconfig

import (
	"context"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
)

// Load loads the SDK's default configuration: in Lambda, the region and the
// execution role's credentials come from the environment (AWS_REGION,
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN). optFns are
// passed on to config.LoadDefaultConfig, such as config.WithHTTPClient. A
// failure is wrapped as "load AWS config: <cause>".
func Load(ctx context.Context, optFns ...func(*config.LoadOptions) error) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx, optFns...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	return cfg, nil
}

// WithIdleConnsPerHost is a Load option whose HTTP client keeps up to n
// idle connections per host (at least the SDK's 10), so a warm function
// posting n at a time reuses its TLS connections instead of opening new
// ones.
func WithIdleConnsPerHost(n int) func(*config.LoadOptions) error {
	return config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = max(n, awshttp.DefaultHTTPTransportMaxIdleConnsPerHost)
	}))
}
