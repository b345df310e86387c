package fanout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"
)

const (
	// MaxFrameBytes is API Gateway's limit on a WebSocket message and on
	// PostToConnection's Data: the largest frame a job carries (package
	// message refuses larger frames with it).
	MaxFrameBytes = 128 * 1024

	// maxShardMessageBytes is SQS's classic maximum message size (256 KiB).
	// A shard message holds the frame in base64 (4/3 of 128 KiB is 174,764
	// bytes) and a few short fields, well within it.
	maxShardMessageBytes = 256 * 1024

	// maxTotalShards is DynamoDB's maximum TotalSegments for a parallel
	// scan.
	maxTotalShards = 1_000_000

	// maxIDBytes bounds the message and connection ids.
	maxIDBytes = 256
)

// Field names of job and shard messages. Only this package reads and
// writes them (the message function calls EncodeJob), so they stay here.
const (
	fieldID          = "id"
	fieldSender      = "sender"
	fieldFrame       = "frame"
	fieldTotalShards = "totalShards"
	fieldSegment     = "segment"
)

// ErrInvalidShard is matched (errors.Is) by every error DecodeShard,
// EncodeShard and Validate return for a malformed shard.
var ErrInvalidShard = errors.New("invalid fan-out shard")

// Job is one broadcast.
type Job struct {
	// ID is the message id; the frame carries it too.
	ID string `json:"id"`
	// Sender is the sender's connection id: it gets no copy of the frame
	// and gets the delivery report.
	Sender string `json:"sender"`
	// Frame is what every recipient gets, exactly (base64 in JSON). It is
	// a JSON object whose "id" is ID.
	Frame []byte `json:"frame"`
	// TotalShards is the number of parallel-scan segments.
	TotalShards int `json:"totalShards"`
}

// Shard is segment Segment of the job's TotalShards: what one SQS message
// carries. Its JSON is flat: id, sender, frame, totalShards, segment.
type Shard struct {
	Job
	Segment int `json:"segment"`
}

// Shards returns the job's shards, segments 0 to TotalShards-1.
func (j Job) Shards() []Shard {
	out := make([]Shard, 0, max(j.TotalShards, 0))
	for i := range j.TotalShards {
		out = append(out, Shard{Job: j, Segment: i})
	}
	return out
}

// Validate checks the job: ids present, short and valid UTF-8, a shard
// count DynamoDB accepts, a frame within API Gateway's limit that is a JSON
// object carrying the message id.
func (j Job) Validate() error {
	if err := j.validateMessage(); err != nil {
		return err
	}
	if j.TotalShards < 1 || j.TotalShards > maxTotalShards {
		return fmt.Errorf("%w: totalShards %d not in 1..%d", ErrInvalidShard, j.TotalShards, maxTotalShards)
	}
	return nil
}

// validateMessage checks what a job message carries: Validate without the
// shard count, which the split chooses.
func (j Job) validateMessage() error {
	for name, v := range map[string]string{fieldID: j.ID, fieldSender: j.Sender} {
		if v == "" || len(v) > maxIDBytes || !utf8.ValidString(v) {
			return fmt.Errorf("%w: %s must be 1 to %d bytes of UTF-8", ErrInvalidShard, name, maxIDBytes)
		}
	}
	if len(j.Frame) == 0 || len(j.Frame) > MaxFrameBytes {
		return fmt.Errorf("%w: frame of %d bytes, want 1 to %d", ErrInvalidShard, len(j.Frame), MaxFrameBytes)
	}
	var f struct {
		ID *string `json:"id"`
	}
	if !json.Valid(j.Frame) || bytes.TrimLeft(j.Frame, " \t\r\n")[0] != '{' || json.Unmarshal(j.Frame, &f) != nil {
		return fmt.Errorf("%w: frame is not a JSON object", ErrInvalidShard)
	}
	if f.ID == nil || *f.ID != j.ID {
		return fmt.Errorf("%w: frame does not carry the message id", ErrInvalidShard)
	}
	return nil
}

// Validate checks the job and that Segment is one of its segments.
func (s Shard) Validate() error {
	if err := s.Job.Validate(); err != nil {
		return err
	}
	if s.Segment < 0 || s.Segment >= s.TotalShards {
		return fmt.Errorf("%w: segment %d not in 0..%d", ErrInvalidShard, s.Segment, s.TotalShards-1)
	}
	return nil
}

// EncodeShard returns the SQS message body for s.
func EncodeShard(s Shard) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode shard: %w", err)
	}
	if len(b) > maxShardMessageBytes {
		return nil, fmt.Errorf("%w: message of %d bytes over %d", ErrInvalidShard, len(b), maxShardMessageBytes)
	}
	return b, nil
}

// jobMessage is the job message's JSON: a Job without its shard count.
type jobMessage struct {
	ID     string `json:"id"`
	Sender string `json:"sender"`
	Frame  []byte `json:"frame"`
}

// EncodeJob returns the SQS message body of a broadcast job, what the
// message function enqueues: {"id":id,"sender":sender,"frame":"<frame in
// base64>"}. The frame must be a JSON object of at most 128 KiB whose "id"
// is id. Errors match ErrInvalidShard.
func EncodeJob(id, sender string, frame []byte) ([]byte, error) {
	if err := (Job{ID: id, Sender: sender, Frame: frame}).validateMessage(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(jobMessage{ID: id, Sender: sender, Frame: frame})
	if err != nil {
		return nil, fmt.Errorf("encode job: %w", err)
	}
	if len(b) > maxShardMessageBytes {
		return nil, fmt.Errorf("%w: message of %d bytes over %d", ErrInvalidShard, len(b), maxShardMessageBytes)
	}
	return b, nil
}

// DecodeRecord decodes a fan-out queue message body strictly (see
// DecodeShard): either a job (exactly id, sender and frame; job is set,
// with TotalShards 0) or a shard (the five fields; shard is set). Errors
// match ErrInvalidShard.
func DecodeRecord(body []byte) (job *Job, shard *Shard, err error) {
	fields, err := strictFields(body)
	if err != nil {
		return nil, nil, err
	}
	if len(fields) == 3 {
		var m jobMessage
		if err := decodeExactly(body, fields, &m, fieldID, fieldSender, fieldFrame); err != nil {
			return nil, nil, err
		}
		j := Job{ID: m.ID, Sender: m.Sender, Frame: m.Frame}
		if err := j.validateMessage(); err != nil {
			return nil, nil, err
		}
		return &j, nil, nil
	}
	s, err := decodeShard(body, fields)
	if err != nil {
		return nil, nil, err
	}
	return nil, &s, nil
}

// DecodeShard decodes an SQS message body strictly: one JSON object, valid
// UTF-8, exactly the five fields, none repeated or null, nothing after it,
// and a shard that passes Validate.
func DecodeShard(body []byte) (Shard, error) {
	fields, err := strictFields(body)
	if err != nil {
		return Shard{}, err
	}
	return decodeShard(body, fields)
}

func decodeShard(body []byte, fields map[string]bool) (Shard, error) {
	var s Shard
	if err := decodeExactly(body, fields, &s, fieldID, fieldSender, fieldFrame, fieldTotalShards, fieldSegment); err != nil {
		return Shard{}, err
	}
	if err := s.Validate(); err != nil {
		return Shard{}, err
	}
	return s, nil
}

// strictFields checks that body is one JSON object of valid UTF-8 within
// SQS's size, with no field repeated or null and nothing after it, and
// returns its field names.
func strictFields(body []byte) (map[string]bool, error) {
	if len(body) > maxShardMessageBytes {
		return nil, fmt.Errorf("%w: message of %d bytes over %d", ErrInvalidShard, len(body), maxShardMessageBytes)
	}
	if !utf8.Valid(body) || !json.Valid(body) {
		return nil, fmt.Errorf("%w: not JSON", ErrInvalidShard)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%w: not a JSON object", ErrInvalidShard)
	}
	seen := make(map[string]bool, 5)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidShard, err)
		}
		name, _ := tok.(string)
		if seen[name] {
			return nil, fmt.Errorf("%w: field %q repeated", ErrInvalidShard, name)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidShard, err)
		}
		if string(raw) == "null" {
			return nil, fmt.Errorf("%w: field %q is null", ErrInvalidShard, name)
		}
	}
	return seen, nil
}

// decodeExactly decodes body into v after checking that fields are
// exactly want.
func decodeExactly(body []byte, fields map[string]bool, v any, want ...string) error {
	for _, name := range want {
		if !fields[name] {
			return fmt.Errorf("%w: field %q missing", ErrInvalidShard, name)
		}
	}
	if len(fields) != len(want) {
		for name := range fields {
			if !slices.Contains(want, name) {
				return fmt.Errorf("%w: unknown field %q", ErrInvalidShard, name)
			}
		}
	}
	strict := json.NewDecoder(bytes.NewReader(body))
	strict.DisallowUnknownFields()
	if err := strict.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidShard, err)
	}
	return nil
}
