package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"

	"wsapi/lambdas/internal/apigwaccount"
	"wsapi/lambdas/internal/testutil"
)

// setup never fails the cold start: with a broken AWS configuration it
// still answers CloudFormation, FAILED, instead of leaving it waiting.
func TestSetupAnswersCloudFormation(t *testing.T) {
	tests := []struct {
		name       string
		profile    string // AWS_PROFILE; a missing one breaks LoadDefaultConfig
		rt         cfn.RequestType
		wantStatus string
		wantReason string
	}{
		{name: "delete", rt: cfn.RequestDelete, wantStatus: "SUCCESS"},
		{name: "broken config: create fails", profile: "no-such-profile", rt: cfn.RequestCreate, wantStatus: "FAILED", wantReason: "cold start: load AWS config"},
		{name: "broken config: delete succeeds", profile: "no-such-profile", rt: cfn.RequestDelete, wantStatus: "SUCCESS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
			t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
			t.Setenv("AWS_REGION", "eu-west-1")
			t.Setenv("AWS_PROFILE", tt.profile)
			var got struct{ Status, Reason, PhysicalResourceId string }
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
					t.Errorf("answer: %v", err)
				}
			}))
			defer srv.Close()

			var logs bytes.Buffer
			h, err := setup(context.Background(), slog.New(slog.NewJSONHandler(&logs, nil)))
			if err != nil {
				t.Fatalf("setup: %v", err)
			}
			ev := cfn.Event{RequestType: tt.rt, RequestID: "r", ResponseURL: srv.URL, StackID: "s", LogicalResourceID: "l",
				ResourceProperties: map[string]any{"RoleName": "r", "PolicyARN": "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"}}
			if reason, err := h.Handle(context.Background(), ev); reason != "" || err != nil {
				t.Fatalf("Handle() = %q, %v", reason, err)
			}
			if got.Status != tt.wantStatus || !strings.Contains(got.Reason, tt.wantReason) || got.PhysicalResourceId != apigwaccount.PhysicalResourceID {
				t.Errorf("answer %+v: want %s, reason containing %q, id %s", got, tt.wantStatus, tt.wantReason, apigwaccount.PhysicalResourceID)
			}
			// Every line JSON, cfn.LambdaWrap's own included.
			lines := testutil.LogLines(t, &logs)
			if tt.wantStatus == "FAILED" && !slices.ContainsFunc(lines, func(l map[string]any) bool {
				return strings.HasPrefix(fmt.Sprint(l["msg"]), "sending status failed")
			}) {
				t.Errorf("log %s: want cfn.LambdaWrap's line as JSON", logs.String())
			}
		})
	}
}
