package localrun

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/coder/websocket"

	"wsapi/localrun/devissuer"
	"wsapi/localrun/runstate"
)

// TestE2ETwoRunsOneStateDir: two runs share a state directory (as two
// `make dev` in one checkout do). Each records itself; after the second
// stops, the first is still found, a token minted from its record (what
// `wslocal token` does) connects to it through the real authorizer, and a
// token for the stopped run's issuer, signed with the same key, is refused.
func TestE2ETwoRunsOneStateDir(t *testing.T) {
	e2e(t)
	state := t.TempDir()
	start := func() *Server {
		s, err := Start(context.Background(), Options{AssemblyDir: e2eAssembly, StateDir: state, Logs: e2eLogs})
		if err != nil {
			t.Fatalf("start: %v\n%s", err, e2eLogs.String())
		}
		t.Cleanup(func() { _ = s.Close(context.Background()) })
		return s
	}
	first, second := start(), start()
	runs, err := runstate.List(state)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || !runs[0].Alive || !runs[1].Alive {
		t.Fatalf("runs while both live: %+v", runs)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := second.Close(ctx); err != nil {
		t.Fatalf("close the second run: %v", err)
	}
	runs, err = runstate.List(state)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || !runs[0].Alive || runs[0].URL != first.URL || runs[0].IssuerURL != first.IssuerURL {
		t.Fatalf("runs after the second stopped: %+v, want the first only", runs)
	}

	issuer, err := devissuer.Open(state)
	if err != nil {
		t.Fatal(err)
	}
	if err := issuer.CheckServing(ctx, runs[0].IssuerURL); err != nil {
		t.Errorf("the first run's issuer: %v", err)
	}
	if err := issuer.CheckServing(ctx, second.IssuerURL); err == nil {
		t.Error("the stopped run's issuer still answers")
	}
	for _, tc := range []struct {
		name, issuerURL string
		want            int
	}{
		{"minted for the live run", runs[0].IssuerURL, 101},
		{"minted for the stopped run", second.IssuerURL, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := issuer.Token(tc.issuerURL, devissuer.Claims{Subject: "two-runs", Audience: runs[0].Audience, TTL: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			status, c := dialToken(t, first, "?token="+url.QueryEscape(tok))
			if c != nil {
				_ = c.Close(websocket.StatusNormalClosure, "")
			}
			if status != tc.want {
				t.Errorf("connect: HTTP %d, want %d", status, tc.want)
			}
		})
	}
}
