package boot

import (
	"bytes"
	"encoding/json"
	"log"
	"log/slog"
	"strings"
	"testing"
)

func TestStdLogWriter(t *testing.T) {
	var out bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&out, nil))
	std := log.New(StdLogWriter{Logger: logger, Drop: func(line string) bool {
		return line == `{"errorMessage":"Unauthorized","errorType":"errorString"}`
	}}, "", 0)

	std.Printf("%s", `{"errorMessage":"Unauthorized","errorType":"errorString"}`)
	if out.Len() != 0 {
		t.Fatalf("dropped line was logged: %s", out.String())
	}
	std.Printf("runtime API client failed to close %s response body: %v", "/next", "EOF")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one JSON line, got %q", out.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("not JSON: %v: %s", err, lines[0])
	}
	if rec["level"] != "WARN" || rec["msg"] != "runtime API client failed to close /next response body: EOF" || rec["source"] != "aws-lambda-go" {
		t.Errorf("record %v", rec)
	}
}
