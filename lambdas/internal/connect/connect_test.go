package connect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"wsapi/lambdas/internal/connections"
	"wsapi/lambdas/internal/testutil"
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
			ev := testutil.DecodeStrict[connections.ConnectEvent](t, "testdata/connect.json")
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
			lines := testutil.LogLines(t, &logs)
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
	testutil.RunConfigTests(t, ConfigFromEnv, []testutil.ConfigTest[Config]{
		{Name: "defaults", Env: map[string]string{"TABLE_NAME": "conns"}, Want: Config{TableName: "conns", ConnectionTTL: 2 * time.Hour}},
		{Name: "ttl", Env: map[string]string{"TABLE_NAME": "conns", "CONNECTION_TTL_SECONDS": "600"}, Want: Config{TableName: "conns", ConnectionTTL: 10 * time.Minute}},
		{Name: "nothing set", Env: map[string]string{}, WantErr: []string{"TABLE_NAME is not set"}},
		{Name: "bad ttl and no table", Env: map[string]string{"CONNECTION_TTL_SECONDS": "2h"}, WantErr: []string{"TABLE_NAME is not set", `CONNECTION_TTL_SECONDS="2h": want an integer from 60 to 86400`}},
		{Name: "ttl too short", Env: map[string]string{"TABLE_NAME": "conns", "CONNECTION_TTL_SECONDS": "59"}, WantErr: []string{"CONNECTION_TTL_SECONDS"}},
	})
}
