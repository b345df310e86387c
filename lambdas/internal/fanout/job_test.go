package fanout

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestJobShards(t *testing.T) {
	j := testShard(0, 3).Job
	shards := j.Shards()
	if len(shards) != 3 {
		t.Fatalf("%d shards, want 3", len(shards))
	}
	for i, s := range shards {
		if s.Segment != i || s.Job.ID != j.ID || s.TotalShards != 3 {
			t.Errorf("shard %d = %+v", i, s)
		}
		if err := s.Validate(); err != nil {
			t.Errorf("shard %d: %v", i, err)
		}
	}
}

// testdata/shard.json is one SQS message body, as EncodeShard writes it.
func TestShardGolden(t *testing.T) {
	golden, err := os.ReadFile("testdata/shard.json")
	if err != nil {
		t.Fatal(err)
	}
	golden = bytes.TrimSpace(golden)
	got, err := EncodeShard(testShard(1, 4))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(golden) {
		t.Errorf("EncodeShard =\n%s\nwant (testdata/shard.json)\n%s", got, golden)
	}
	s, err := DecodeShard(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(testShard(1, 4), s); diff != "" {
		t.Errorf("DecodeShard (-want +got):\n%s", diff)
	}
}

func TestEncodeShardLargestFrameFitsSQS(t *testing.T) {
	frame := `{"id":"m1","message":"` + strings.Repeat("x", MaxFrameBytes-len(`{"id":"m1","message":""}`)) + `"}`
	s := testShard(0, 1)
	s.Frame = []byte(frame)
	b, err := EncodeShard(s)
	if err != nil {
		t.Fatalf("EncodeShard of a %d-byte frame: %v", len(frame), err)
	}
	if _, err := DecodeShard(b); err != nil {
		t.Fatalf("DecodeShard: %v", err)
	}
	s.Frame = []byte(frame[:len(frame)-2] + `x"}`)
	if _, err := EncodeShard(s); !errors.Is(err, ErrInvalidShard) {
		t.Errorf("a frame over %d bytes: err = %v, want ErrInvalidShard", MaxFrameBytes, err)
	}
}

func TestDecodeShardStrict(t *testing.T) {
	// "frame" below is base64 of {"id":"m1"}.
	const frame = `"eyJpZCI6Im0xIn0="`
	ok := `{"id":"m1","sender":"s","frame":` + frame + `,"totalShards":2,"segment":1}`
	if _, err := DecodeShard([]byte(ok)); err != nil {
		t.Fatalf("DecodeShard(%s): %v", ok, err)
	}
	tests := []struct{ name, body string }{
		{"empty", ``},
		{"not JSON", `{"id":`},
		{"not an object", `["m1"]`},
		{"trailing data", ok + `{}`},
		{"invalid UTF-8", strings.Replace(ok, `"s"`, "\"s\xff\"", 1)},
		{"unknown field", strings.Replace(ok, `"segment"`, `"extra":1,"segment"`, 1)},
		{"field repeated", strings.Replace(ok, `"segment":1`, `"segment":1,"segment":0`, 1)},
		{"field missing", strings.Replace(ok, `,"segment":1`, ``, 1)},
		{"field null", strings.Replace(ok, `"segment":1`, `"segment":null`, 1)},
		{"id empty", strings.Replace(ok, `"id":"m1"`, `"id":""`, 1)},
		{"sender not a string", strings.Replace(ok, `"sender":"s"`, `"sender":1`, 1)},
		{"segment past the last", strings.Replace(ok, `"segment":1`, `"segment":2`, 1)},
		{"segment negative", strings.Replace(ok, `"segment":1`, `"segment":-1`, 1)},
		{"segment not a whole number", strings.Replace(ok, `"segment":1`, `"segment":1.5`, 1)},
		{"no shards", strings.Replace(ok, `"totalShards":2`, `"totalShards":0`, 1)},
		{"more shards than DynamoDB segments", strings.Replace(ok, `"totalShards":2`, `"totalShards":1000001`, 1)},
		{"frame not base64", strings.Replace(ok, frame, `"{}"`, 1)},
		{"frame empty", strings.Replace(ok, frame, `""`, 1)},
		{"frame not JSON", strings.Replace(ok, frame, `"bm90IGpzb24="`, 1)},            // not json
		{"frame not an object", strings.Replace(ok, frame, `"WyJtMSJd"`, 1)},           // ["m1"]
		{"frame without the id", strings.Replace(ok, frame, `"eyJ4IjoibTEifQ=="`, 1)},  // {"x":"m1"}
		{"frame with another id", strings.Replace(ok, frame, `"eyJpZCI6Im0yIn0="`, 1)}, // {"id":"m2"}
		{"too large", `{"id":"` + strings.Repeat("m", maxShardMessageBytes) + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := DecodeShard([]byte(tt.body)); !errors.Is(err, ErrInvalidShard) {
				t.Errorf("DecodeShard = %+v, %v; want ErrInvalidShard", s, err)
			}
		})
	}
}

func FuzzDecodeShard(f *testing.F) {
	f.Add([]byte(`{"id":"m1","sender":"s","frame":"eyJpZCI6Im0xIn0=","totalShards":2,"segment":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := DecodeShard(body)
		if err != nil {
			return
		}
		b, err := EncodeShard(s)
		if err != nil {
			t.Fatalf("decoded %+v but cannot encode it: %v", s, err)
		}
		again, err := DecodeShard(b)
		if err != nil || !cmp.Equal(s, again) {
			t.Fatalf("round trip: %+v -> %s -> %+v, %v", s, b, again, err)
		}
	})
}

// testdata/job.json is a job message body, as EncodeJob writes it (and the
// message function enqueues it).
func TestJobGolden(t *testing.T) {
	golden, err := os.ReadFile("testdata/job.json")
	if err != nil {
		t.Fatal(err)
	}
	golden = bytes.TrimSpace(golden)
	got, err := EncodeJob(testJobID, testSender, testFrame)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(golden) {
		t.Errorf("EncodeJob =\n%s\nwant (testdata/job.json)\n%s", got, golden)
	}
	job, shard, err := DecodeRecord(golden)
	if err != nil {
		t.Fatal(err)
	}
	if shard != nil {
		t.Errorf("DecodeRecord(job) returned a shard %+v", shard)
	}
	want := Job{ID: testJobID, Sender: testSender, Frame: testFrame}
	if job == nil {
		t.Fatal("DecodeRecord(job) returned no job")
	}
	if diff := cmp.Diff(want, *job); diff != "" {
		t.Errorf("DecodeRecord job (-want +got):\n%s", diff)
	}
}

func TestDecodeRecordShard(t *testing.T) {
	golden, err := os.ReadFile("testdata/shard.json")
	if err != nil {
		t.Fatal(err)
	}
	job, shard, err := DecodeRecord(golden)
	if err != nil || job != nil || shard == nil {
		t.Fatalf("DecodeRecord(shard) = %v, %v, %v; want a shard", job, shard, err)
	}
	if diff := cmp.Diff(testShard(1, 4), *shard); diff != "" {
		t.Errorf("DecodeRecord shard (-want +got):\n%s", diff)
	}
}

func TestEncodeJobInvalid(t *testing.T) {
	tests := []struct {
		name, id, sender, frame string
	}{
		{"id empty", "", "s", `{"id":""}`},
		{"sender empty", "m1", "", `{"id":"m1"}`},
		{"frame empty", "m1", "s", ``},
		{"frame not an object", "m1", "s", `["m1"]`},
		{"frame with another id", "m1", "s", `{"id":"m2"}`},
		{"frame too large", "m1", "s", `{"id":"m1","x":"` + strings.Repeat("x", MaxFrameBytes) + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := EncodeJob(tt.id, tt.sender, []byte(tt.frame)); !errors.Is(err, ErrInvalidShard) {
				t.Errorf("EncodeJob = %s, %v; want ErrInvalidShard", b, err)
			}
		})
	}
}

func TestDecodeRecordStrict(t *testing.T) {
	// "frame" below is base64 of {"id":"m1"}.
	const frame = `"eyJpZCI6Im0xIn0="`
	ok := `{"id":"m1","sender":"s","frame":` + frame + `}`
	if j, _, err := DecodeRecord([]byte(ok)); err != nil || j == nil {
		t.Fatalf("DecodeRecord(%s) = %v, %v", ok, j, err)
	}
	tests := []struct{ name, body string }{
		{"empty", ``},
		{"not an object", `["m1"]`},
		{"trailing data", ok + `{}`},
		{"unknown field", strings.Replace(ok, `"sender"`, `"extra":1,"sender"`, 1)},
		{"unknown field instead of one", strings.Replace(ok, `"sender"`, `"Sender"`, 1)},
		{"field repeated", strings.Replace(ok, `"id":"m1"`, `"id":"m1","id":"m1"`, 1)},
		{"field missing", strings.Replace(ok, `,"sender":"s"`, ``, 1)},
		{"field null", strings.Replace(ok, `"sender":"s"`, `"sender":null`, 1)},
		{"only the shard count", strings.Replace(ok, `}`, `,"totalShards":2}`, 1)},
		{"only the segment", strings.Replace(ok, `}`, `,"segment":1}`, 1)},
		{"frame with another id", strings.Replace(ok, frame, `"eyJpZCI6Im0yIn0="`, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if j, s, err := DecodeRecord([]byte(tt.body)); !errors.Is(err, ErrInvalidShard) {
				t.Errorf("DecodeRecord = %+v, %+v, %v; want ErrInvalidShard", j, s, err)
			}
		})
	}
}
