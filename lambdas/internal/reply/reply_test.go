package reply

import (
	"encoding/json"
	"testing"
)

func TestReplyJSON(t *testing.T) {
	tests := []struct {
		name  string
		reply Reply
		want  string
	}{
		{name: "ack", reply: Ack(3, 1, 0), want: `{"type":"ack","delivered":3,"stale":1}`},
		{name: "ack to nobody", reply: Ack(0, 0, 0), want: `{"type":"ack","delivered":0,"stale":0}`},
		{name: "ack with failures", reply: Ack(1, 0, 2), want: `{"type":"ack","delivered":1,"stale":0,"failed":2}`},
		{name: "ack with an id", reply: Reply{Type: TypeAck, Delivered: 1, ID: "0123abcd"}, want: `{"type":"ack","delivered":1,"stale":0,"id":"0123abcd"}`},
		{name: "queued ack", reply: QueuedAck("0123abcd"), want: `{"type":"ack","queued":true,"id":"0123abcd"}`},
		{name: "error", reply: Error(CodeEmptyMessage, "message must not be empty"), want: `{"type":"error","code":"empty_message","message":"message must not be empty"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.reply)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			var back Reply
			if err := json.Unmarshal(got, &back); err != nil || back != tt.reply {
				t.Errorf("round trip = %+v, %v; want %+v", back, err, tt.reply)
			}
		})
	}
}

func TestFramesJSON(t *testing.T) {
	tests := []struct {
		name  string
		frame any
		want  string
	}{
		{
			name:  "message",
			frame: Message{Type: TypeMessage, ID: "0123abcd", From: "alice", Message: "hi", SentAt: "2023-11-14T22:13:20Z"},
			want:  `{"type":"message","id":"0123abcd","from":"alice","message":"hi","sentAt":"2023-11-14T22:13:20Z"}`,
		},
		{
			name:  "delivery",
			frame: Delivery{Type: TypeDelivery, ID: "0123abcd", Delivered: 3, Stale: 1},
			want:  `{"type":"delivery","id":"0123abcd","delivered":3,"stale":1,"failed":0}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.frame)
			if err != nil || string(got) != tt.want {
				t.Errorf("got %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}
