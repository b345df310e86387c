package vtl_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"wsapi/vtl"
)

func TestParseErrorsHavePositions(t *testing.T) {
	tests := []struct {
		name, src  string
		line, col  int
		msgContain string
	}{
		{"trailing dollar", "ab\ncd$", 2, 4, "lexical error"},
		{"trailing hash", "#", 1, 2, "lexical error"},
		{"stray end", "x\n  #end", 2, 3, "#end"},
		{"unclosed if", "#if(true)x", 1, 11, "end of template"},
		{"bad char in directive", "#if($a ; $b)x#end", 1, 8, "lexical error"},
		{"unsupported macro", "\n#macro(m)x#end", 2, 1, "not supported"},
		{"bad string escape", `#set($a = "\uZZZZ")`, 1, 11, "string literal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := vtl.Parse("t.vtl", tc.src)
			var pe *vtl.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("want *ParseError, got %v", err)
			}
			if pe.Line != tc.line || pe.Column != tc.col || !strings.Contains(pe.Error(), tc.msgContain) {
				t.Errorf("got %v (line %d col %d), want line %d col %d containing %q", pe, pe.Line, pe.Column, tc.line, tc.col, tc.msgContain)
			}
		})
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name, src, body string
		wantErr         error
	}{
		{"body not JSON", "$input.json('$.a')", `{"a":`, nil},
		{"unsupported regex", `#set($s = "aa")$s.replaceAll("(a)\1", "b")`, "", vtl.ErrUnsupportedRegex},
		{"unsupported JSONPath", "$input.path('$[?(@.a)]')", `[{"a":1}]`, vtl.ErrUnsupportedJSONPath},
		{"index out of bounds", `#set($l = [1])$l.get(3)`, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := vtl.Parse("t.vtl", tc.src)
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			err = tmpl.Render(&out, &vtl.APIGatewayData{Body: tc.body})
			var re *vtl.RenderError
			if !errors.As(err, &re) || re.Line != 1 {
				t.Fatalf("want *RenderError on line 1, got %v", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("want %v, got %v", tc.wantErr, err)
			}
			if out.Len() != 0 {
				t.Errorf("wrote %q despite the error", out.String())
			}
		})
	}
}

func TestBodyNotJSONMentionsParseException(t *testing.T) {
	tmpl := vtl.MustParse("t.vtl", "$input.path('$.a')")
	err := tmpl.Render(&strings.Builder{}, &vtl.APIGatewayData{Body: "{abc"})
	var pe *vtl.JSONParseError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "net.minidev.json.parser.ParseException") {
		t.Fatalf("got %v", err)
	}
}

func TestRenderWithMap(t *testing.T) {
	tmpl := vtl.MustParse("t.vtl", `#foreach($k in $m.keySet())$k=$m.get($k);#end $list.size() $n $!missing`)
	got, err := tmpl.RenderString(map[string]any{
		"m":    map[string]any{"b": 2, "a": "x"},
		"list": []any{1, "two"},
		"n":    int64(1) << 40,
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "a=x;b=2; 2 1099511627776 "; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestStopKeepsOutput(t *testing.T) {
	got, err := vtl.MustParse("t.vtl", "a#stop b").RenderString(nil)
	if err != nil || got != "a" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestEscapeJavaScript(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{`it's "q" \ /`, `it\'s \"q\" \\ \/`},
		{"\b\f\n\r\t\x00\x1f\x7f", `\b\f\n\r\t\u0000\u001F` + "\x7f"},
		{"é€😀", `\u00E9\u20AC\uD83D\uDE00`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := vtl.EscapeJavaScript(tc.in); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNormalizeUTF8(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ok é", "ok é"},
		{"a\x80b", "a\uFFFDb"},
		{"\xe2\x82x", "\uFFFDx"},   // truncated sequence: one replacement
		{"\xed\xa0\x80", "\uFFFD"}, // encoded surrogate: one replacement
		{"\xc0\xaf", "\uFFFD\uFFFD"},
		{"\xf4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD"},
		{"\xf0\x9f\x98", "\uFFFD"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.in), func(t *testing.T) {
			if got := vtl.NormalizeUTF8(tc.in); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func ExampleTemplate_Render() {
	tmpl := vtl.MustParse("message.vtl", `{"id": "$context.connectionId", "body": "$util.escapeJavaScript($input.body)", "who": "$!context.authorizer.principalId"}`)
	out, _ := tmpl.RenderString(&vtl.APIGatewayData{
		Context: vtl.WebSocketContext{ConnectionID: "abc="},
		Body:    `say "hi"`,
	})
	fmt.Println(out)
	// Output: {"id": "abc=", "body": "say \"hi\"", "who": ""}
}
