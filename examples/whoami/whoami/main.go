// Command whoami is the example's Lambda function for the whoami route: it
// answers the caller with who the authorizer says they are and which
// connection they are on. Its event is what ../whoami.vtl renders.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

// Event is what the request template renders; every field is a string.
type Event struct {
	ConnectionID string `json:"connectionId"`
	RequestID    string `json:"requestId"`
	PrincipalID  string `json:"principalId"`
	Username     string `json:"username"`
	Email        string `json:"email"`
	Body         string `json:"body"` // the client's frame, as sent
}

// Request is the only frame the route accepts: {"action":"whoami"}.
type Request struct {
	Action string `json:"action"`
}

// Reply is the frame sent back: the whoami answer, or an error.
type Reply struct {
	Type         string `json:"type"` // "whoami" or "error"
	PrincipalID  string `json:"principalId,omitempty"`
	Username     string `json:"username,omitempty"`
	Email        string `json:"email,omitempty"`
	ConnectionID string `json:"connectionId,omitempty"`
	RequestID    string `json:"requestId,omitempty"`
	Code         string `json:"code,omitempty"`    // error only
	Message      string `json:"message,omitempty"` // error only
}

// errFrame is the reply to input the route refuses; the function succeeds.
func errFrame(code, message, requestID string) Reply {
	return Reply{Type: "error", Code: code, Message: message, RequestID: requestID}
}

// decodeStrict decodes exactly one JSON value into v, refusing unknown fields.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data")
	}
	return nil
}

func handle(ctx context.Context, log *slog.Logger, raw json.RawMessage) Reply {
	var ev Event
	if err := decodeStrict(raw, &ev); err != nil || ev.ConnectionID == "" || ev.PrincipalID == "" {
		// The template, not the client, went wrong: no detail leaves.
		log.ErrorContext(ctx, "unexpected event", "decodeError", err != nil)
		return errFrame("internal", "unexpected event", ev.RequestID)
	}
	log = log.With("connectionId", ev.ConnectionID, "requestId", ev.RequestID)
	var req Request
	if err := decodeStrict([]byte(ev.Body), &req); err != nil || req.Action != "whoami" {
		// The body is the client's: never logged, nor echoed.
		log.WarnContext(ctx, "refused", "code", "invalid_request")
		return errFrame("invalid_request", `want {"action":"whoami"} and no other field`, ev.RequestID)
	}
	log.InfoContext(ctx, "whoami")
	return Reply{
		Type:         "whoami",
		PrincipalID:  ev.PrincipalID,
		Username:     ev.Username,
		Email:        ev.Email,
		ConnectionID: ev.ConnectionID,
		RequestID:    ev.RequestID,
	}
}

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	lambda.Start(func(ctx context.Context, raw json.RawMessage) (Reply, error) {
		return handle(ctx, log, raw), nil
	})
}
