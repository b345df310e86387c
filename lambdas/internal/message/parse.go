package message

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"wsapi/contract"
	"wsapi/lambdas/internal/reply"
)

// Body fields.
const (
	fieldAction  = "action"
	fieldMessage = "message"
	fieldTo      = "to"
)

const (
	// escapeFactor is the most a JSON string can grow per byte of its
	// value (a control character is written \u00XX). A body larger than
	// maxBodyBytes cannot hold an acceptable message and recipient, so it
	// is refused before it is even scanned.
	escapeFactor = 6
	bodySlack    = 1024

	// maxRecipientBytes is DynamoDB's limit on a partition key value: a
	// longer "to" could only make the index query fail.
	maxRecipientBytes = 2048
)

// request is a sendmessage body that passed every check.
type request struct {
	message string
	to      string // principal id; "" means everyone
}

// rejection is a client error: the body was refused and nothing was done.
type rejection struct {
	code    reply.Code
	message string
}

func (r *rejection) reply() reply.Reply { return reply.Error(r.code, r.message) }

func reject(code reply.Code, message string) *rejection {
	return &rejection{code: code, message: message}
}

var (
	errNotJSON    = reject(reply.CodeInvalidJSON, "the body must be a JSON object in UTF-8 text")
	errDuplicate  = reject(reply.CodeInvalidJSON, "a field appears more than once")
	errNotObject  = reject(reply.CodeNotObject, "the body must be a JSON object")
	errNoAction   = reject(reply.CodeUnknownAction, `the action field is missing; send {"action":"`+contract.ActionSendMessage+`","message":"..."}`)
	errBadAction  = reject(reply.CodeUnknownAction, `unknown action; the only action is "`+contract.ActionSendMessage+`"`)
	errField      = reject(reply.CodeUnknownField, "unknown field; the allowed fields are action, message and to")
	errNoMessage  = reject(reply.CodeMissingMessage, "the message field is missing")
	errBadMessage = reject(reply.CodeInvalidMessage, "message must be a string")
	errEmpty      = reject(reply.CodeEmptyMessage, "message must not be empty or only white space")
	errRecipient  = reject(reply.CodeInvalidRecipient, fmt.Sprintf("to must be a non-empty string of at most %d bytes naming a principal", maxRecipientBytes))
)

func errTooLarge(maxMessageBytes int) *rejection {
	return reject(reply.CodeMessageTooLarge, fmt.Sprintf("message must be at most %d bytes of UTF-8", maxMessageBytes))
}

// parseSendMessage checks a sendmessage body. The checks run cheapest first
// and each refusal names the first problem found: size, UTF-8 and JSON
// syntax, object shape, action, fields, message, recipient.
func parseSendMessage(body string, maxMessageBytes int) (request, *rejection) {
	fields, rej := parseObject(body, maxMessageBytes)
	if rej != nil {
		return request{}, rej
	}
	raw, ok := fields[fieldAction]
	if !ok {
		return request{}, errNoAction
	}
	if action, ok := asString(raw); !ok || action != contract.ActionSendMessage {
		return request{}, errBadAction
	}
	// Field names match exactly (encoding/json would let "To" stand for
	// "to"), and an unknown one is refused: a misspelt "to" must not turn
	// a direct message into a broadcast.
	for name := range fields {
		if name != fieldAction && name != fieldMessage && name != fieldTo {
			return request{}, errField
		}
	}

	raw, ok = fields[fieldMessage]
	if !ok {
		return request{}, errNoMessage
	}
	msg, ok := asString(raw)
	switch {
	case !ok:
		return request{}, errBadMessage
	case strings.TrimSpace(msg) == "":
		return request{}, errEmpty
	case len(msg) > maxMessageBytes:
		return request{}, errTooLarge(maxMessageBytes)
	}

	req := request{message: msg}
	if raw, ok := fields[fieldTo]; ok {
		to, ok := asString(raw)
		if !ok || strings.TrimSpace(to) == "" || len(to) > maxRecipientBytes {
			return request{}, errRecipient
		}
		req.to = to
	}
	return req, nil
}

// parseDefault answers a frame on the $default route, which API Gateway
// picks when the body has no action it routes: always a refusal, saying
// what is wrong with the frame when that is more precise.
func parseDefault(body string, maxMessageBytes int) *rejection {
	fields, rej := parseObject(body, maxMessageBytes)
	if rej != nil {
		return rej
	}
	if _, ok := fields[fieldAction]; !ok {
		return errNoAction
	}
	return errBadAction
}

// parseObject splits a body that must be one JSON object into its raw
// fields, refusing oversized bodies, invalid UTF-8 (which encoding/json
// would silently replace), invalid JSON, non-objects and repeated fields
// (which encoding/json would silently resolve to the last one).
func parseObject(body string, maxMessageBytes int) (map[string]json.RawMessage, *rejection) {
	if len(body) > maxBodyBytes(maxMessageBytes) {
		return nil, errTooLarge(maxMessageBytes)
	}
	if !utf8.ValidString(body) || !json.Valid([]byte(body)) {
		return nil, errNotJSON
	}
	if trimmed := strings.TrimLeft(body, " \t\r\n"); !strings.HasPrefix(trimmed, "{") {
		return nil, errNotObject
	}

	dec := json.NewDecoder(strings.NewReader(body))
	if _, err := dec.Token(); err != nil { // the opening brace
		return nil, errNotJSON
	}
	fields := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errNotJSON
		}
		name, ok := tok.(string)
		if !ok {
			return nil, errNotJSON
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, errNotJSON
		}
		if _, dup := fields[name]; dup {
			return nil, errDuplicate
		}
		fields[name] = raw
	}
	return fields, nil
}

// maxBodyBytes is the largest body that may hold an acceptable frame: the
// longest message and recipient, fully escaped, and some room for the rest.
func maxBodyBytes(maxMessageBytes int) int {
	return escapeFactor*(maxMessageBytes+maxRecipientBytes) + bodySlack
}

// asString decodes raw when it is a JSON string (not null, not a number).
func asString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}
