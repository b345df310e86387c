package connections

import (
	"context"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

func TestLogAttrs(t *testing.T) {
	rc := RequestContext{RequestID: "api-req", ConnectionID: "conn=", RouteKey: "$connect"}
	tests := []struct {
		name string
		ctx  context.Context
		want []any
	}{
		{
			name: "in Lambda",
			ctx:  lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "aws-req"}),
			want: []any{"apiRequestId", "api-req", "awsRequestId", "aws-req", "connectionId", "conn=", "routeKey", "$connect"},
		},
		{
			name: "outside Lambda",
			ctx:  context.Background(),
			want: []any{"apiRequestId", "api-req", "awsRequestId", "", "connectionId", "conn=", "routeKey", "$connect"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rc.LogAttrs(tt.ctx); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("LogAttrs() = %v, want %v", got, tt.want)
			}
			// The proxy-event functions log under the very same keys.
			if got := RequestLogAttrs(tt.ctx, "api-req", "conn=", "$connect"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("RequestLogAttrs() = %v, want %v", got, tt.want)
			}
		})
	}
}
