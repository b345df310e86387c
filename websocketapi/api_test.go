package websocketapi

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"

	"wsapi/contract"
)

// stubFunction stands for a function in option checks, which only look at
// whether one is given (its methods are never called).
type stubFunction struct{ awslambda.IFunction }

func TestValidateRoute(t *testing.T) {
	fn := stubFunction{}
	tmpl := `{"connectionId":"$context.connectionId"}`
	cases := []struct {
		name    string
		key     string
		options RouteOptions
		wantID  string
		wantErr []string
	}{
		{name: "non-proxy", key: "whoami", options: RouteOptions{Function: fn, RequestTemplate: tmpl}, wantID: "Whoami"},
		{name: "two-way", key: "who.am-i", options: RouteOptions{Function: fn, RequestTemplate: tmpl, TwoWay: true}, wantID: "Whoami"},
		{name: "proxy", key: "echo", options: RouteOptions{Function: fn, Proxy: true, TwoWay: true}, wantID: "Echo"},
		{name: "own id", key: "get/user", options: RouteOptions{Function: fn, Proxy: true, ID: "GetUser"}, wantID: "GetUser"},
		{name: "key starting with a digit", key: "2fa", options: RouteOptions{Function: fn, Proxy: true}, wantID: "Route2fa"},
		{name: "empty key", key: "", options: RouteOptions{Function: fn, Proxy: true}, wantErr: []string{"route key: empty"}},
		{name: "predefined key", key: "$default", options: RouteOptions{Function: fn, Proxy: true}, wantErr: []string{"predefined"}},
		{name: "taken key", key: contract.RouteSendMessage, options: RouteOptions{Function: fn, Proxy: true}, wantErr: []string{"already has this route"}},
		{name: "space in key", key: "who am i", options: RouteOptions{Function: fn, Proxy: true}, wantErr: []string{"without spaces"}},
		{name: "id taken by a built-in route", key: "connect", options: RouteOptions{Function: fn, Proxy: true}, wantErr: []string{`ID "Connect"`, "$connect"}},
		{name: "nothing to name it after", key: "!!", options: RouteOptions{Function: fn, Proxy: true}, wantErr: []string{"set ID"}},
		{name: "bad id", key: "x", options: RouteOptions{Function: fn, Proxy: true, ID: "my-route"}, wantErr: []string{`ID "my-route"`}},
		{name: "no function", key: "x", options: RouteOptions{RequestTemplate: tmpl}, wantErr: []string{"Function: required"}},
		{name: "no template", key: "x", options: RouteOptions{Function: fn, RequestTemplate: " \n"}, wantErr: []string{"needs a request template"}},
		{name: "template with proxy", key: "x", options: RouteOptions{Function: fn, Proxy: true, RequestTemplate: tmpl}, wantErr: []string{"proxy integration"}},
		{name: "template that does not parse", key: "x", options: RouteOptions{Function: fn, RequestTemplate: `#if($a`}, wantErr: []string{"RequestTemplate:"}},
		{name: "template over 300 KB", key: "x", options: RouteOptions{Function: fn, RequestTemplate: strings.Repeat("a", 300*1024+1)}, wantErr: []string{"limit is 307200"}},
		{
			name: "every problem at once", key: "$connect", options: RouteOptions{ID: "1", RequestTemplate: ""},
			wantErr: []string{"predefined", `ID "1"`, "Function: required", "needs a request template"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := &builder{routeIDs: map[string]string{
				contract.RouteConnect: "Connect", contract.RouteDisconnect: "Disconnect",
				contract.RouteSendMessage: "SendMessage", contract.RouteDefault: "Default",
			}}
			id, err := b.validateRoute(c.key, c.options)
			if len(c.wantErr) == 0 {
				if err != nil || id != c.wantID {
					t.Fatalf("got %q, %v; want %q", id, err, c.wantID)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; want one mentioning %q", c.wantErr)
			}
			for _, want := range c.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestConnectionMethods(t *testing.T) {
	cases := []struct {
		in      []string
		want    string
		wantErr string
	}{
		{in: nil, want: "POST"},
		{in: []string{"GET", "DELETE", "GET"}, want: "GET,DELETE"},
		{in: []string{"post", "PUT"}, wantErr: `"post", "PUT"`},
	}
	for _, c := range cases {
		got, err := connectionMethods(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%q: error %v, want one naming %s", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil || strings.Join(got, ",") != c.want {
			t.Errorf("%q: got %q, %v; want %s", c.in, got, err, c.want)
		}
	}
}

func TestNewWebSocketAPIRejectsInvalidProps(t *testing.T) {
	defer func() {
		r := recover()
		msg, _ := r.(string)
		for _, want := range []string{"StageName", "MaxInFlight"} {
			if !strings.Contains(msg, want) {
				t.Errorf("panic %v does not name %s", r, want)
			}
		}
	}()
	// Validation runs before any construct is made, so no jsii is needed.
	NewWebSocketAPI(nil, "Bad", &WebSocketAPIProps{StageName: "bad stage", MaxInFlight: -1})
}

func TestDefaultModuleDir(t *testing.T) {
	dir, err := defaultModuleDir()
	if err != nil {
		t.Fatal(err)
	}
	if !declaresModule(dir) {
		t.Errorf("%s does not hold the %s module", dir, modulePath)
	}
}
