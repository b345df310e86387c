// Package reply holds what the backend sends to WebSocket clients: the Reply
// the message function returns (API Gateway's route response hands it to the
// sender), the Message frame posted to the other connections, and Sender,
// which posts frames through the API Gateway Management API.
package reply

import "encoding/json"

// Reply types.
const (
	TypeAck   = "ack"
	TypeError = "error"
)

// Code is the stable, machine-readable reason of an error Reply. Clients may
// switch on it; the message beside it is for people and may change.
type Code string

// Error codes. Every code but CodeInternal means the client's frame was
// refused before anything was written or posted.
const (
	CodeInvalidJSON      Code = "invalid_json"      // not JSON, or not UTF-8, or a field repeated
	CodeNotObject        Code = "not_object"        // JSON, but not an object
	CodeUnknownAction    Code = "unknown_action"    // action missing, not a string, or not a route
	CodeUnknownField     Code = "unknown_field"     // a field other than action, message, to
	CodeMissingMessage   Code = "missing_message"   // no message field
	CodeInvalidMessage   Code = "invalid_message"   // message is not a string
	CodeEmptyMessage     Code = "empty_message"     // message is empty or only white space
	CodeMessageTooLarge  Code = "message_too_large" // message, or the whole frame, over the limit
	CodeInvalidRecipient Code = "invalid_recipient" // to is present but not a non-empty string
	CodeInternal         Code = "internal"          // our fault; the message carries a request id
)

// Reply is the message function's return value. An ack is
// {"type":"ack","delivered":N,"stale":M} with "failed":K added when K > 0;
// an error is {"type":"error","code":"...","message":"..."}.
type Reply struct {
	Type string `json:"type"`

	// Ack: connections the frame reached, connections found gone (and
	// removed), connections a post failed for otherwise.
	Delivered int `json:"delivered"`
	Stale     int `json:"stale"`
	Failed    int `json:"failed"`

	// Error.
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// Ack returns an ack Reply.
func Ack(delivered, stale, failed int) Reply {
	return Reply{Type: TypeAck, Delivered: delivered, Stale: stale, Failed: failed}
}

// Error returns an error Reply.
func Error(code Code, message string) Reply {
	return Reply{Type: TypeError, Code: code, Message: message}
}

// MarshalJSON writes only the fields of the reply's type, so an ack never
// carries an empty code and an error never carries counts.
func (r Reply) MarshalJSON() ([]byte, error) {
	switch r.Type {
	case TypeAck:
		return json.Marshal(struct {
			Type      string `json:"type"`
			Delivered int    `json:"delivered"`
			Stale     int    `json:"stale"`
			Failed    int    `json:"failed,omitempty"`
		}{r.Type, r.Delivered, r.Stale, r.Failed})
	default:
		return json.Marshal(struct {
			Type    string `json:"type"`
			Code    Code   `json:"code"`
			Message string `json:"message"`
		}{r.Type, r.Code, r.Message})
	}
}

// Message is the frame posted to each recipient of a chat message.
type Message struct {
	Type    string `json:"type"` // always "message"
	From    string `json:"from"`
	Message string `json:"message"`
	SentAt  string `json:"sentAt"` // RFC 3339, UTC
}

// TypeMessage is Message's type.
const TypeMessage = "message"
