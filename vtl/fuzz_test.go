package vtl

import (
	"bufio"
	"errors"
	"os"
	"strings"
	"testing"
)

// FuzzTemplate checks that Parse and Render never panic: whatever the
// template, the result is output or an error.
func FuzzTemplate(f *testing.F) {
	if fh, err := os.Open("testdata/corpus/oneliners.tsv"); err == nil {
		sc := bufio.NewScanner(fh)
		r := strings.NewReplacer("⏎", "\n", "⇥", "\t", "␍", "\r")
		for sc.Scan() {
			if _, tmpl, ok := strings.Cut(sc.Text(), "\t"); ok {
				f.Add(r.Replace(tmpl), `{"a":[1,{"b":"c"}]}`)
			}
		}
		fh.Close()
	}
	f.Fuzz(func(t *testing.T, src, body string) {
		tmpl, err := Parse("fuzz", src)
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("Parse returned %T (%v), want *ParseError", err, err)
			}
			return
		}
		// Keep loops bounded: the fuzzer finds [1..999999] quickly.
		if strings.Contains(src, "..") {
			return
		}
		_, err = tmpl.RenderString(&APIGatewayData{Body: body, Context: WebSocketContext{Stage: "prod", Authorizer: map[string]any{"principalId": "p"}}})
		if errors.Is(err, ErrInternal) {
			t.Fatal(err)
		}
	})
}
