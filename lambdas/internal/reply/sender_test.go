package reply

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
)

type fakePoster struct {
	err error
	got []*apigatewaymanagementapi.PostToConnectionInput
}

func (f *fakePoster) PostToConnection(_ context.Context, in *apigatewaymanagementapi.PostToConnectionInput, _ ...func(*apigatewaymanagementapi.Options)) (*apigatewaymanagementapi.PostToConnectionOutput, error) {
	f.got = append(f.got, in)
	if f.err != nil {
		return nil, f.err
	}
	return &apigatewaymanagementapi.PostToConnectionOutput{}, nil
}

func TestSenderSend(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name     string
		err      error
		wantErr  bool
		wantGone bool
	}{
		{name: "posted"},
		{name: "gone", err: &types.GoneException{Message: aws.String("Gone")}, wantErr: true, wantGone: true},
		{name: "forbidden", err: &types.ForbiddenException{}, wantErr: true},
		{name: "other", err: boom, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &fakePoster{err: tt.err}
			err := NewSender(p).Send(context.Background(), "abc=", []byte(`{"x":1}`))
			if (err != nil) != tt.wantErr {
				t.Fatalf("Send() error = %v, want error: %t", err, tt.wantErr)
			}
			if got := errors.Is(err, ErrGone); got != tt.wantGone {
				t.Errorf("errors.Is(err, ErrGone) = %t, want %t", got, tt.wantGone)
			}
			var gone *types.GoneException
			if got := errors.As(err, &gone); got != tt.wantGone {
				t.Errorf("errors.As(err, *GoneException) = %t, want %t", got, tt.wantGone)
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("error %v does not wrap %v", err, tt.err)
			}
			if len(p.got) != 1 || aws.ToString(p.got[0].ConnectionId) != "abc=" || string(p.got[0].Data) != `{"x":1}` {
				t.Errorf("PostToConnection inputs = %+v", p.got)
			}
		})
	}
}
