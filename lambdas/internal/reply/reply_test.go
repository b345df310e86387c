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
