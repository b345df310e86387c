package connect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"wsapi/lambdas/internal/connections"
)

// fakeStore records what it is asked to put.
type fakeStore struct {
	err error
	got []connections.Connection
}

func (f *fakeStore) Put(_ context.Context, c connections.Connection) error {
	f.got = append(f.got, c)
	return f.err
}

// loadEvent decodes a rendered template as Lambda would, but strictly, so a
// fixture that drifts from the event contract fails here.
func loadEvent(t *testing.T, name string) connections.ConnectEvent {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var ev connections.ConnectEvent
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return ev
}

func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	return lines
}

func TestHandle(t *testing.T) {
	now := time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)
	boom := errors.New("boom")
	tests := []struct {
		name     string
		edit     func(*connections.ConnectEvent)
		storeErr error
		want     *connections.Connection // nil: nothing put
		wantErr  error                   // matched with errors.Is when set
		wantLog  string                  // level of the one log line
	}{
		{
			name: "recorded",
			want: &connections.Connection{
				ID:          "L0SM9cOFvHcCIhw=",
				PrincipalID: "alice",
				ConnectedAt: time.UnixMilli(1700000000123),
				ExpiresAt:   now.Add(2 * time.Hour),
			},
			wantLog: "INFO",
		},
		{
			name: "no connectedAt: now",
			edit: func(ev *connections.ConnectEvent) { ev.ConnectedAt = 0 },
			want: &connections.Connection{
				ID:          "L0SM9cOFvHcCIhw=",
				PrincipalID: "alice",
				ConnectedAt: now,
				ExpiresAt:   now.Add(2 * time.Hour),
			},
			wantLog: "INFO",
		},
		{name: "empty principal", edit: func(ev *connections.ConnectEvent) { ev.Authorizer.PrincipalID = "" }, wantLog: "ERROR"},
		{name: "empty connection id", edit: func(ev *connections.ConnectEvent) { ev.ConnectionID = "" }, wantLog: "ERROR"},
		{
			name:     "id already recorded",
			storeErr: connections.ErrExists,
			want:     &connections.Connection{ID: "L0SM9cOFvHcCIhw=", PrincipalID: "alice", ConnectedAt: time.UnixMilli(1700000000123), ExpiresAt: now.Add(2 * time.Hour)},
			wantErr:  connections.ErrExists,
			wantLog:  "ERROR",
		},
		{
			name:     "store fails",
			storeErr: boom,
			want:     &connections.Connection{ID: "L0SM9cOFvHcCIhw=", PrincipalID: "alice", ConnectedAt: time.UnixMilli(1700000000123), ExpiresAt: now.Add(2 * time.Hour)},
			wantErr:  boom,
			wantLog:  "ERROR",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := loadEvent(t, "testdata/connect.json")
			if tt.edit != nil {
				tt.edit(&ev)
			}
			store := &fakeStore{err: tt.storeErr}
			var logs bytes.Buffer
			h := New(store, 2*time.Hour, slog.New(slog.NewJSONHandler(&logs, nil)))
			h.now = func() time.Time { return now }
			ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "aws-req-1"})

			resp, err := h.Handle(ctx, ev)

			failed := tt.wantLog == "ERROR"
			if (err != nil) != failed || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Fatalf("Handle() error = %v, want failure %t (%v)", err, failed, tt.wantErr)
			}
			if wantResp := map[bool]connections.Response{false: connections.OK}[failed]; resp != wantResp {
				t.Errorf("Handle() = %+v, want %+v", resp, wantResp)
			}
			if got, want := len(store.got), map[bool]int{false: 0, true: 1}[tt.want != nil]; got != want {
				t.Fatalf("put %d connections, want %d", got, want)
			}
			if tt.want != nil && !sameConnection(store.got[0], *tt.want) {
				t.Errorf("put %+v, want %+v", store.got[0], *tt.want)
			}
			lines := logLines(t, &logs)
			if len(lines) != 1 {
				t.Fatalf("logged %d lines, want 1: %s", len(lines), logs.String())
			}
			l := lines[0]
			if l["level"] != tt.wantLog || l["apiRequestId"] != "L0SM9FmrvHcFlQQ=" || l["awsRequestId"] != "aws-req-1" || l["routeKey"] != "$connect" {
				t.Errorf("log line %v: want level %s with both request ids and the route", l, tt.wantLog)
			}
			if failed && l["error"] == nil {
				t.Errorf("error log line has no error: %v", l)
			}
		})
	}
}

func sameConnection(a, b connections.Connection) bool {
	return a.ID == b.ID && a.PrincipalID == b.PrincipalID && a.ConnectedAt.Equal(b.ConnectedAt) && a.ExpiresAt.Equal(b.ExpiresAt)
}

func TestResponseJSON(t *testing.T) {
	b, err := json.Marshal(connections.OK)
	if err != nil || string(b) != `{"statusCode":200}` {
		t.Errorf("OK marshals to %s, %v", b, err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr []string
	}{
		{name: "defaults", env: map[string]string{"TABLE_NAME": "conns"}, want: Config{TableName: "conns", ConnectionTTL: 2 * time.Hour}},
		{name: "ttl", env: map[string]string{"TABLE_NAME": "conns", "CONNECTION_TTL_SECONDS": "600"}, want: Config{TableName: "conns", ConnectionTTL: 10 * time.Minute}},
		{name: "nothing set", env: map[string]string{}, wantErr: []string{"TABLE_NAME is not set"}},
		{name: "bad ttl and no table", env: map[string]string{"CONNECTION_TTL_SECONDS": "2h"}, wantErr: []string{"TABLE_NAME is not set", `CONNECTION_TTL_SECONDS="2h": want an integer from 60 to 86400`}},
		{name: "ttl too short", env: map[string]string{"TABLE_NAME": "conns", "CONNECTION_TTL_SECONDS": "59"}, wantErr: []string{"CONNECTION_TTL_SECONDS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ConfigFromEnv(func(k string) string { return tt.env[k] })
			if len(tt.wantErr) == 0 && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			for _, w := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error = %v, want one containing %q", err, w)
				}
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
