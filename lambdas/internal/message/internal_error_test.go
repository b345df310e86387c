package message

import (
	"context"
	"encoding/json"
	"testing"

	"wsapi/lambdas/internal/connections"
	"wsapi/mappingtemplates"
	"wsapi/vtl"
)

// TestInternalErrorTemplateIsTheFunctionsFrame: when the message function
// itself fails (timeout, crash, out of memory), API Gateway renders
// mappingtemplates/internal_error.vtl instead of passing Lambda's error on.
// The client must not be able to tell the two apart: the template renders,
// byte for byte, the frame the function sends for its own faults.
func TestInternalErrorTemplateIsTheFunctionsFrame(t *testing.T) {
	tmpl, err := vtl.Parse("internal_error.vtl", mappingtemplates.InternalError)
	if err != nil {
		t.Fatal(err)
	}
	for _, requestID := range []string{"L0SRxEmrvHcFtWQ=", "abc-123_XYZ"} {
		data := vtl.APIGatewayData{Context: vtl.WebSocketContext{
			RequestID: requestID, RouteKey: "sendmessage", EventType: "MESSAGE",
			ConnectionID: "c1=", Stage: "prod", APIID: "a1b2c3d4e5",
		}}
		got, err := tmpl.RenderString(&data)
		if err != nil {
			t.Fatal(err)
		}
		ev := connections.MessageEvent{RequestContext: connections.RequestContext{RequestID: requestID}}
		want, err := json.Marshal(internalError(context.Background(), ev))
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("request id %s:\n template %s\n function %s", requestID, got, want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("template output is not JSON: %s", got)
		}
	}
}
