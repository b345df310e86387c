package awsconfig

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
)

func TestLoad(t *testing.T) {
	errOption := errors.New("option failed")
	tests := []struct {
		name       string
		profile    string // AWS_PROFILE; "" leaves it unset
		region     string // AWS_REGION
		opts       []func(*config.LoadOptions) error
		wantRegion string
		wantErr    error // errors.Is target, when not nil
		wantErrAs  bool  // the cause is the SDK's missing-profile error
	}{
		{name: "region from the environment", region: "eu-west-3", wantRegion: "eu-west-3"},
		{name: "an option applies", region: "eu-west-3", opts: []func(*config.LoadOptions) error{config.WithRegion("us-east-2")}, wantRegion: "us-east-2"},
		{name: "shared config profile", profile: "fixture", wantRegion: "ap-southeast-2"},
		{name: "missing profile", profile: "absent", wantErrAs: true},
		{name: "failing option", opts: []func(*config.LoadOptions) error{func(*config.LoadOptions) error { return errOption }}, wantErr: errOption},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("AWS_CONFIG_FILE", filepath.Join("testdata", "config"))
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join("testdata", "no-credentials"))
			t.Setenv("AWS_PROFILE", tt.profile)
			t.Setenv("AWS_DEFAULT_PROFILE", "")
			t.Setenv("AWS_REGION", tt.region)
			t.Setenv("AWS_DEFAULT_REGION", "")
			t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

			cfg, err := Load(context.Background(), tt.opts...)
			if tt.wantErr == nil && !tt.wantErrAs {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if cfg.Region != tt.wantRegion {
					t.Errorf("region %q, want %q", cfg.Region, tt.wantRegion)
				}
				return
			}
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if !strings.HasPrefix(err.Error(), "load AWS config: ") {
				t.Errorf("error %q does not start with %q", err, "load AWS config: ")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v does not wrap %v", err, tt.wantErr)
			}
			var missing config.SharedConfigProfileNotExistError
			if tt.wantErrAs && !errors.As(err, &missing) {
				t.Errorf("error %v (%T) does not wrap config.SharedConfigProfileNotExistError", err, errors.Unwrap(err))
			}
		})
	}
}

func TestWithIdleConnsPerHost(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-3")
	for _, tt := range []struct{ n, want int }{{32, 32}, {256, 256}, {4, 10}} {
		cfg, err := Load(context.Background(), WithIdleConnsPerHost(tt.n))
		if err != nil {
			t.Fatal(err)
		}
		c, ok := cfg.HTTPClient.(*awshttp.BuildableClient)
		if !ok {
			t.Fatalf("HTTPClient is %T", cfg.HTTPClient)
		}
		if got := c.GetTransport().MaxIdleConnsPerHost; got != tt.want {
			t.Errorf("n %d: MaxIdleConnsPerHost %d, want %d", tt.n, got, tt.want)
		}
	}
}
