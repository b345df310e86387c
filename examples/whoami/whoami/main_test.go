package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestHandle(t *testing.T) {
	event := func(body string) json.RawMessage {
		b, _ := json.Marshal(Event{ConnectionID: "c1=", RequestID: "r1=", PrincipalID: "alice", Username: "Alice", Email: "a@example.com", Body: body})
		return b
	}
	cases := []struct {
		name string
		raw  json.RawMessage
		want Reply
	}{
		{"whoami", event(`{"action":"whoami"}`), Reply{Type: "whoami", PrincipalID: "alice", Username: "Alice", Email: "a@example.com", ConnectionID: "c1=", RequestID: "r1="}},
		{"unknown field", event(`{"action":"whoami","secret":"s3cr3t"}`), errFrame("invalid_request", `want {"action":"whoami"} and no other field`, "r1=")},
		{"trailing data", event(`{"action":"whoami"} {}`), errFrame("invalid_request", `want {"action":"whoami"} and no other field`, "r1=")},
		{"not JSON", event(`s3cr3t`), errFrame("invalid_request", `want {"action":"whoami"} and no other field`, "r1=")},
		{"event with an unknown field", json.RawMessage(`{"connectionId":"c1=","principalId":"alice","body":"{}","extra":1}`), errFrame("internal", "unexpected event", "")},
		{"event without a principal", json.RawMessage(`{"connectionId":"c1=","requestId":"r1=","body":"{}"}`), errFrame("internal", "unexpected event", "r1=")},
		{"not an event", json.RawMessage(`[]`), errFrame("internal", "unexpected event", "")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			got := handle(context.Background(), slog.New(slog.NewJSONHandler(&logs, nil)), c.raw)
			if got != c.want {
				t.Errorf("reply %+v, want %+v", got, c.want)
			}
			if strings.Contains(logs.String(), "s3cr3t") {
				t.Errorf("the body was logged: %s", logs.String())
			}
		})
	}
}
