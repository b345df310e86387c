package gateway

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"wsapi/mappingtemplates"
	"wsapi/vtl"
)

// TestResponseKeys: keys match the whole errorMessage as Java's
// String.matches would, or are refused.
func TestResponseKeys(t *testing.T) {
	cases := []struct {
		key     string
		match   []string
		noMatch []string
		refused string // substring of the error
	}{
		// The stack's key: any non-empty message, newlines included.
		{key: `/[\s\S]+/`, match: []string{"x", "Task timed out after 25.00 seconds", "a\nb", "\x0B", "ü"}, noMatch: []string{""}},
		{key: `/.+/`, match: []string{"boom"}, noMatch: []string{"", "a\nb", "a\rb", "a\u2028b", "a\u0085b"}},
		{key: `/(?s).+/`, match: []string{"a\nb", "a\rb"}},
		{key: `/(?s:a.)b./`, match: []string{"a\nbc"}, noMatch: []string{"a\nb\n"}},
		{key: `/boom/`, match: []string{"boom"}, noMatch: []string{"boom!", "a boom"}},
		{key: `/.*timed out.*/`, match: []string{"Task timed out after 3.00 seconds"}},
		{key: `/\s+/`, match: []string{" \t\n\x0B\f\r"}, noMatch: []string{"\u00a0"}},
		{key: `/[^\s]+/`, match: []string{"abc"}, noMatch: []string{"a\x0Bc"}},
		{key: `/[\S]+/`, match: []string{"abc"}, noMatch: []string{"a\x0Bc"}},
		{key: `/\v/`, match: []string{"\u2028"}},
		{key: `/\h+/`, match: []string{" \t\u00a0\u3000"}, noMatch: []string{"\n"}},
		{key: `/\Q[x]\E.*/`, match: []string{"[x] y"}, noMatch: []string{"x"}},
		{key: `/[\Q-\E]/`, match: []string{"-"}, noMatch: []string{"b"}},
		{key: `/[a\-z]+/`, match: []string{"a-z"}, noMatch: []string{"b"}},
		{key: `/\p{Lower}+\p{Digit}/`, match: []string{"abc1"}, noMatch: []string{"ABC1"}},
		{key: `/\u0041\x42\x{43}\0104/`, match: []string{"ABCD"}},
		{key: `/(?<kind>[A-Z]\w+): .*/`, match: []string{"ValidationError: bad"}},
		{key: `/^boom$/`, match: []string{"boom"}, noMatch: []string{"boom\n"}},
		{key: `/a{2,}/`, match: []string{"aaa"}, noMatch: []string{"a"}},
		// A ] first in a class is itself, in Java.
		{key: `/[]a]+/`, match: []string{"]a"}, noMatch: []string{"b"}},
		{key: `/[^\S\d]+/`, match: []string{" \t\x0B"}, noMatch: []string{"1", "x"}},
		{key: `/boom$/`, match: []string{"boom"}, noMatch: []string{"boom\n"}},
		{key: `/[\x00-\s]/`, refused: "Illegal character range"},
		{key: `/a{2000}/`, refused: "over 1000"},
		{key: `/.*"errorType".*/`, match: []string{`{"errorType":"x"}`}},
		{key: `/(?!x).*/`, refused: "lookaround"},
		{key: `/(?<=x)y/`, refused: "lookaround"},
		{key: `/(?>ab)/`, refused: "atomic group"},
		{key: `/(a)\1/`, refused: "backreference"},
		{key: `/a*+/`, refused: "possessive quantifier"},
		{key: `/a{2}+/`, refused: "possessive quantifier"},
		{key: `/[a-z&&[^b]]/`, refused: "class intersection"},
		{key: `/[a[b]]/`, refused: "nested character class"},
		{key: `/[a&&b]/`, refused: "class intersection"},
		{key: `/\bboom\b/`, refused: `\b and \B`},
		{key: `/(?i)boom/`, refused: "(?i)"},
		{key: `/(?m)^boom/`, refused: "inline flag 'm'"},
		{key: `/a$b/`, refused: "$ before the end"},
		{key: `/\Z/`, refused: `\Z`},
		{key: `/\R/`, refused: `\R`},
		{key: `/\p{javaLowerCase}/`, refused: `\p{javaLowerCase}`},
		{key: `/{"a"}/`, refused: "Illegal repetition"},
		{key: `/[a/`, refused: "Unclosed character class"},
		{key: `/\y/`, refused: "Illegal/unsupported escape sequence"},
		{key: `/(/`, refused: "missing closing )"},
		{key: `//`, refused: "want $default or /regex/"},
		{key: `boom`, refused: "want $default or /regex/"},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			k, err := parseResponseKey(tc.key)
			if tc.refused != "" {
				if err == nil || !strings.Contains(err.Error(), tc.refused) {
					t.Fatalf("parseResponseKey(%q) = %v, want an error with %q", tc.key, err, tc.refused)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseResponseKey(%q): %v", tc.key, err)
			}
			for _, m := range tc.match {
				if !k.matches(m) {
					t.Errorf("%q does not match %q", tc.key, m)
				}
			}
			for _, m := range tc.noMatch {
				if k.matches(m) {
					t.Errorf("%q matches %q", tc.key, m)
				}
			}
		})
	}
	t.Run("unsupported keys are errUnsupportedKey", func(t *testing.T) {
		if _, err := parseResponseKey(`/(?=x)/`); !errors.Is(err, errUnsupportedKey) {
			t.Errorf("error %v", err)
		}
	})
}

// TestResponseKeyWarnings: the startup warnings for keys whose meaning
// depends on whether API Gateway matches the whole message, and for
// several keys that may match one error.
func TestResponseKeyWarnings(t *testing.T) {
	cases := []struct {
		keys []string
		want []string // substrings of the warnings, in order
	}{
		{keys: []string{`/[\s\S]+/`}},
		{keys: []string{`/.*timed out.*/`}},
		{keys: []string{`/(?s).*/`}},
		{keys: []string{`/boom/`}, want: []string{`key /boom/ matches the errorMessage "Error: boom" as a partial match`}},
		{keys: []string{`/Invalid input/`}, want: []string{`key /Invalid input/ matches the errorMessage "Invalid input and more" as a partial match`}},
		{keys: []string{`/timed out/`}, want: []string{`key /timed out/ matches the errorMessage "Task timed out after 25.00 seconds"`}},
		{keys: []string{`/.+/`}, want: []string{`key /.+/ matches the errorMessage "line one\nline two"`}},
		{keys: []string{`/.*Error.*/`, `/[\s\S]+/`}, want: []string{"integration response keys /.*Error.*/ /[\\s\\S]+/ may all match one error"}},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.keys, " "), func(t *testing.T) {
			r := nonProxyRoute("sendmessage", append([]string{"$default"}, tc.keys...)...)
			cfg := Config{Stage: "prod", RouteSelectionExpression: "$request.body.action", Routes: map[string]*Route{"sendmessage": r}}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			got := cfg.Warnings()
			if len(got) != len(tc.want) {
				t.Fatalf("warnings %q, want %d", got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %q, want it to contain %q", got[i], w)
				}
			}
		})
	}
}

// TestIntegrationResponses: which integration response a result gets, and
// what its template renders, with the stack's own keys and template.
func TestIntegrationResponses(t *testing.T) {
	internalError := map[string]*vtl.Template{"$default": vtl.MustParse("internal_error.vtl", mappingtemplates.InternalError)}
	stackResponses := func(c *Config, _ *Options) {
		// As the stack sets up sendmessage and $default: a $default
		// integration response that passes results on, and one for any
		// function error (FunctionErrorResponseKey).
		for _, k := range []string{"sendmessage", "$default"} {
			c.Routes[k].Integration.Responses[`/[\s\S]+/`] = &IntegrationResponse{
				Key: `/[\s\S]+/`, TemplateSelectionExpression: `\$default`, ResponseTemplates: internalError,
			}
		}
	}
	fail := func(typ, msg string) func([]byte) Result {
		return func([]byte) Result { return Result{Error: &FunctionError{Type: typ, Message: msg}} }
	}
	cases := []struct {
		name    string
		mutate  func(*Config, *Options)
		message func([]byte) Result
		check   func(t *testing.T, frame map[string]any)
	}{
		{name: "success: $default passes the result on", mutate: stackResponses,
			check: func(t *testing.T, f map[string]any) {
				if f["type"] != "ack" {
					t.Errorf("frame %v", f)
				}
			}},
		{name: "timeout: the internal error frame", mutate: stackResponses,
			message: fail("Sandbox.Timedout", "Task timed out after 25.00 seconds"),
			check:   wantInternalErrorFrame},
		{name: "crash: the internal error frame", mutate: stackResponses,
			message: fail("Runtime.ExitError", "RequestId: 1 Error: Runtime exited with error: exit status 2\nmore"),
			check:   wantInternalErrorFrame},
		{name: "no regex key: Lambda's raw error through $default",
			message: fail("Runtime.ExitError", "exit status 2"),
			check: func(t *testing.T, f map[string]any) {
				if f["errorMessage"] != "exit status 2" || f["errorType"] != "Runtime.ExitError" || len(f) != 2 {
					t.Errorf("frame %v, want Lambda's error document", f)
				}
			}},
		{name: "an empty errorMessage matches no key", mutate: stackResponses,
			message: fail("errorString", ""),
			check: func(t *testing.T, f map[string]any) {
				if f["errorMessage"] != "" || f["errorType"] != "errorString" {
					t.Errorf("frame %v, want Lambda's error document", f)
				}
			}},
		{name: "response template selection reads the request body",
			mutate: func(c *Config, _ *Options) {
				ir := c.Routes["sendmessage"].Integration.Responses["$default"]
				ir.TemplateSelectionExpression = "${request.body.format}"
				ir.ResponseTemplates = map[string]*vtl.Template{
					"short":    vtl.MustParse("short", `{"short":$input.json('$.type'),"route":"$context.routeKey"}`),
					"$default": vtl.MustParse("long", `{"long":true}`),
				}
			},
			check: func(t *testing.T, f map[string]any) {
				if f["short"] != "ack" || f["route"] != "sendmessage" {
					t.Errorf("frame %v, want the short template with $context", f)
				}
			}},
		{name: "a response template that fails: the error frame",
			mutate: func(c *Config, _ *Options) {
				c.Routes["sendmessage"].Integration.Responses["$default"].ResponseTemplates = map[string]*vtl.Template{
					"$default": vtl.MustParse("bad", `$input.json('$.x')`),
				}
			},
			message: func([]byte) Result { return Result{Payload: []byte(`{"x":`)} },
			check: func(t *testing.T, f map[string]any) {
				if f["message"] != "Internal server error" {
					t.Errorf("frame %v", f)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestAPI(t, tc.mutate)
			if tc.message != nil {
				a.message.handle = tc.message
			}
			c := a.dial(t, "?token=t")
			write(t, c, `{"action":"sendmessage","format":"short"}`)
			tc.check(t, readJSON(t, c))
			// The connection stays usable.
			write(t, c, `{"action":"sendmessage"}`)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, _, err := c.Read(ctx); err != nil {
				t.Errorf("after: %v", err)
			}
		})
	}
}

func wantInternalErrorFrame(t *testing.T, f map[string]any) {
	t.Helper()
	msg, _ := f["message"].(string)
	if f["type"] != "error" || f["code"] != "internal" || !strings.HasPrefix(msg, "internal error, request id ") ||
		strings.HasSuffix(msg, "$context.requestId") || len(f) != 3 {
		t.Errorf("frame %v, want the internal error frame with the request id", f)
	}
}

// TestInternalErrorFrameRequestID: the frame names the request id that the
// gateway logged for the failed message.
func TestInternalErrorFrameRequestID(t *testing.T) {
	var logs logBuffer
	a := newTestAPI(t, all(withLogs(&logs), func(c *Config, _ *Options) {
		c.Routes["sendmessage"].Integration.Responses[`/[\s\S]+/`] = &IntegrationResponse{Key: `/[\s\S]+/`,
			ResponseTemplates: map[string]*vtl.Template{"$default": vtl.MustParse("e", mappingtemplates.InternalError)}}
	}))
	a.message.handle = func([]byte) Result {
		return Result{Error: &FunctionError{Type: "Sandbox.Timedout", Message: "Task timed out after 25.00 seconds"}}
	}
	c := a.dial(t, "?token=t")
	write(t, c, `{"action":"sendmessage"}`)
	f := readJSON(t, c)
	wantInternalErrorFrame(t, f)
	id := strings.TrimPrefix(f["message"].(string), "internal error, request id ")
	found := false
	for _, r := range logs.records(t) {
		if r["msg"] == "function error" && r["requestId"] == id && r["errorType"] == "Sandbox.Timedout" {
			found = true
		}
	}
	if !found {
		t.Errorf("no function error logged with request id %s:\n%s", id, logs.String())
	}
}
