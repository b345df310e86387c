// Package reply holds what the backend sends to WebSocket clients: the Reply
// the message function returns (API Gateway's route response hands it to the
// sender), the Message frame posted to the other connections, the Delivery
// report a broadcast's sender gets once it has been fanned out, and Sender,
// which posts frames through the API Gateway Management API.
package reply

import (
	"encoding/json"

	"wsapi/contract"
)

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

// Reply is the message function's return value. An ack of a message sent
// at once (a direct one) is {"type":"ack","delivered":N,"stale":M,"id":"..."}
// with "failed":K added when K > 0 (and "id" left out when empty); an ack of
// a broadcast, which is only queued, is {"type":"ack","queued":true,"id":"..."};
// an error is {"type":"error","code":"...","message":"..."}.
type Reply struct {
	Type string `json:"type"`

	// Ack: connections the frame reached, connections found gone (and
	// removed), connections a post failed for otherwise.
	Delivered int `json:"delivered"`
	Stale     int `json:"stale"`
	Failed    int `json:"failed"`
	// Ack: Queued means the message was queued for a fan-out and the
	// counts come later, in a Delivery report; ID is the message id, the
	// "id" of the Message frame (and of the Delivery report).
	Queued bool   `json:"queued"`
	ID     string `json:"id"`

	// Error.
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// Ack returns an ack Reply.
func Ack(delivered, stale, failed int) Reply {
	return Reply{Type: TypeAck, Delivered: delivered, Stale: stale, Failed: failed}
}

// QueuedAck returns the ack of a message queued for a fan-out.
func QueuedAck(id string) Reply {
	return Reply{Type: TypeAck, Queued: true, ID: id}
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
		if r.Queued {
			return json.Marshal(struct {
				Type   string `json:"type"`
				Queued bool   `json:"queued"`
				ID     string `json:"id"`
			}{r.Type, r.Queued, r.ID})
		}
		return json.Marshal(struct {
			Type      string `json:"type"`
			Delivered int    `json:"delivered"`
			Stale     int    `json:"stale"`
			Failed    int    `json:"failed,omitempty"`
			ID        string `json:"id,omitempty"`
		}{r.Type, r.Delivered, r.Stale, r.Failed, r.ID})
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
	Type string `json:"type"` // always "message"
	// ID is the message id, unique per message: delivery is at least
	// once, and a client drops a frame whose id it has already seen.
	ID      string `json:"id"`
	From    string `json:"from"`
	Message string `json:"message"`
	SentAt  string `json:"sentAt"` // RFC 3339, UTC
}

// TypeMessage is Message's type.
const TypeMessage = contract.FrameTypeMessage

// Delivery is the report a broadcast's sender gets once every recipient
// has been tried: {"type":"delivery","id":"...","delivered":N,"stale":M,"failed":K},
// ID being the message's (its Message frame's and its ack's).
type Delivery struct {
	Type      string `json:"type"` // always TypeDelivery
	ID        string `json:"id"`
	Delivered int    `json:"delivered"`
	Stale     int    `json:"stale"`
	Failed    int    `json:"failed"`
}

// TypeDelivery is Delivery's type.
const TypeDelivery = contract.FrameTypeDelivery
