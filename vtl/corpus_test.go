package vtl

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// A differential case: a template rendered with a context and a body.
type diffCase struct {
	Name           string          `json:"name"`
	Template       string          `json:"template"`
	Context        json.RawMessage `json:"context,omitempty"`
	Body           string          `json:"body"`
	StageVariables json.RawMessage `json:"stageVariables,omitempty"`

	// Differs marks a deliberate disagreement with Velocity 1.7 (see
	// DIFFERENCES.md); Expect is then what this engine renders, or
	// "ERROR" when it refuses the template.
	Differs string `json:"-"`
	Expect  string `json:"-"`
	HasExp  bool   `json:"-"`

	// WS, when set, is rendered through the public API (APIGatewayData),
	// Context being its JSON form for the harness.
	WS *WebSocketContext `json:"-"`
}

const defaultContext = `{"apiId":"a1b2c3","connectedAt":1700000000000,"connectionId":"Ab12Cd34=","domainName":"x1.execute-api.eu-west-1.amazonaws.com","eventType":"MESSAGE","extendedRequestId":"Ext-1","messageDirection":"IN","messageId":"Msg-1","requestId":"Req-1","requestTime":"24/Nov/2026:10:00:00 +0000","requestTimeEpoch":1700000000123,"routeKey":"sendmessage","stage":"prod","status":"200","authorizer":{"principalId":"user|42","sub":"0b8f-1","username":"O'Brien","email":"ob@example.com","scope":"read write","n":7,"flag":true},"identity":{"sourceIp":"203.0.113.9","userAgent":"Mozilla/5.0 \"quoted\" é","accountId":"123456789012"}}`

const defaultBody = `{"name":"Bob","n":3,"list":[1,2,3],"nested":{"a":{"b":"c"}},"s":"x/y","items":[{"id":1,"tag":"a"},{"id":2,"tag":"b"},{"id":3}],"f":2.5,"t":true,"z":null}`

const defaultStage = `{"env":"prod","table":"connections"}`

// Section markers of the .txt corpus files.
const (
	caseMarker    = "== "
	sectionMarker = "-- "
)

// loadCorpus reads testdata/corpus: .txt files of cases, oneliners.tsv,
// and the generated matrices.
func loadCorpus(t testing.TB) []diffCase {
	t.Helper()
	var cases []diffCase
	files, err := filepath.Glob("testdata/corpus/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	for _, f := range files {
		cases = append(cases, parseCaseFile(t, f)...)
	}
	cases = append(cases, oneLiners(t, "testdata/corpus/oneliners.tsv")...)
	cases = append(cases, projectMatrix(t)...)
	cases = append(cases, jsonPathMatrix(t)...)
	seen := map[string]bool{}
	for i := range cases {
		c := &cases[i]
		if seen[c.Name] {
			t.Fatalf("duplicate case name %q", c.Name)
		}
		seen[c.Name] = true
		if c.Context == nil {
			c.Context = json.RawMessage(defaultContext)
		}
		if c.StageVariables == nil {
			c.StageVariables = json.RawMessage(defaultStage)
		}
	}
	return cases
}

func parseCaseFile(t testing.TB, path string) []diffCase {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSuffix(filepath.Base(path), ".txt")
	var cases []diffCase
	var cur *diffCase
	var section string
	var buf []string
	flush := func() {
		if cur == nil || section == "" {
			return
		}
		text := strings.Join(buf, "\n")
		switch {
		case section == "template":
			cur.Template = text
		case section == "body":
			cur.Body = text
		case section == "context":
			cur.Context = json.RawMessage(text)
		case section == "stage":
			cur.StageVariables = json.RawMessage(text)
		case section == "expect":
			cur.Expect, cur.HasExp = text, true
		case strings.HasPrefix(section, "differs:"):
			cur.Differs = strings.TrimSpace(strings.TrimPrefix(section, "differs:"))
		default:
			t.Fatalf("%s: case %s: unknown section %q", path, cur.Name, section)
		}
		section, buf = "", nil
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, caseMarker):
			flush()
			if cur != nil {
				cases = append(cases, *cur)
			}
			cur = &diffCase{Name: base + "/" + strings.TrimSpace(line[len(caseMarker):])}
		case strings.HasPrefix(line, sectionMarker) && cur != nil:
			flush()
			section = strings.TrimSpace(line[len(sectionMarker):])
			if strings.HasPrefix(section, "differs:") {
				flush()
			}
		case section != "":
			buf = append(buf, line)
		}
	}
	flush()
	if cur != nil {
		cases = append(cases, *cur)
	}
	return cases
}

// oneLiners reads "name<TAB>template" lines; in templates ⏎ is a newline,
// ⇥ a tab and ␍ a carriage return.
func oneLiners(t testing.TB, path string) []diffCase {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := strings.NewReplacer("⏎", "\n", "⇥", "\t", "␍", "\r")
	var cases []diffCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, tmpl, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("%s: no tab in %q", path, line)
		}
		c := diffCase{Name: "oneliners/" + name, Template: r.Replace(tmpl), Body: defaultBody}
		if rest, differs, ok := strings.Cut(c.Template, "\tDIFFERS:"); ok {
			c.Template = rest
			c.Differs = differs
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}

// readLinesJSON reads one JSON string per line.
func readLinesJSON(t testing.TB, path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var s string
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("%s: %q: %v", path, line, err)
		}
		out = append(out, s)
	}
	return out
}

// projectMatrix renders the project's templates for nasty bodies and
// authorizer contexts.
func projectMatrix(t testing.TB) []diffCase {
	bodies := readLinesJSON(t, "testdata/corpus/bodies.json")
	var auths []map[string]any
	for _, s := range readLinesJSON(t, "testdata/corpus/authorizers.json") {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		auths = append(auths, m)
	}
	var cases []diffCase
	for _, name := range []string{"disconnect", "message"} { // $connect is a proxy integration: no template
		src, err := os.ReadFile("../mappingtemplates/" + name + ".vtl")
		if err != nil {
			t.Fatal(err)
		}
		for i, body := range bodies {
			a := auths[i%len(auths)]
			ctx := projectContext(name, a, body)
			cases = append(cases, diffCase{
				Name:     fmt.Sprintf("project/%s/%02d", name, i),
				Template: string(src),
				Context:  contextJSON(t, ctx),
				Body:     body,
				WS:       ctx,
			})
		}
	}
	return cases
}

func projectContext(route string, auth map[string]any, ua string) *WebSocketContext {
	c := &WebSocketContext{
		APIID: "a1b2c3", ConnectedAt: 1700000000000, ConnectionID: "Ab12Cd34=",
		DomainName: "x1.execute-api.eu-west-1.amazonaws.com", ExtendedRequestID: "Ext-1",
		MessageDirection: "IN", RequestID: "Req-1", RequestTime: "24/Nov/2026:10:00:00 +0000",
		RequestTimeEpoch: 1700000000123, Stage: "prod", Status: "200", Authorizer: auth,
		Identity: Identity{SourceIP: "203.0.113.9", UserAgent: ua},
	}
	switch route {
	case "disconnect":
		c.EventType, c.RouteKey = "DISCONNECT", "$disconnect"
	default:
		c.EventType, c.RouteKey, c.MessageID = "MESSAGE", "sendmessage", "Msg-1"
	}
	return c
}

// contextJSON serialises $context in its key order, for the harness.
func contextJSON(t testing.TB, c *WebSocketContext) json.RawMessage {
	var b strings.Builder
	var enc func(v any)
	enc = func(v any) {
		switch x := v.(type) {
		case *Map:
			b.WriteByte('{')
			for i, k := range x.Keys() {
				if i > 0 {
					b.WriteByte(',')
				}
				kb, _ := json.Marshal(k)
				b.Write(kb)
				b.WriteByte(':')
				enc(x.Get(k))
			}
			b.WriteByte('}')
		default:
			vb, err := json.Marshal(x)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(vb)
		}
	}
	enc(c.Map())
	return json.RawMessage(b.String())
}

// jsonPathMatrix evaluates every path of jsonpaths.txt on every body of
// jsonbodies.json.
func jsonPathMatrix(t testing.TB) []diffCase {
	paths := readLinesJSON(t, "testdata/corpus/jsonpaths.json")
	bodies := readLinesJSON(t, "testdata/corpus/jsonbodies.json")
	var cases []diffCase
	for bi, body := range bodies {
		for pi, p := range paths {
			lit := "'" + strings.ReplaceAll(p, "'", "''") + "'"
			cases = append(cases, diffCase{
				Name:     fmt.Sprintf("jsonpath/b%02d/p%02d", bi, pi),
				Template: fmt.Sprintf("json=$input.json(%s)\npath=$input.path(%s)\n", lit, lit),
				Body:     body,
			})
		}
	}
	return cases
}

// caseVars builds the variables our engine renders a case with.
func caseVars(t testing.TB, c diffCase) map[string]any {
	ctx, err := strictOrderedJSON(c.Context)
	if err != nil {
		t.Fatalf("context: %v", err)
	}
	sv, err := strictOrderedJSON(c.StageVariables)
	if err != nil {
		t.Fatalf("stage variables: %v", err)
	}
	return map[string]any{
		"context":        ctx,
		"input":          NewInput(c.Body),
		"util":           Util{},
		"stageVariables": sv,
	}
}

// strictOrderedJSON decodes JSON as the harness's json-smart strict mode
// with ordered maps does (the permissive parser would drop control
// characters from escaped strings).
func strictOrderedJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var value func() (any, error)
	value = func() (any, error) {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch x := tok.(type) {
		case json.Delim:
			if x == '{' {
				m := NewMap()
				for dec.More() {
					kt, err := dec.Token()
					if err != nil {
						return nil, err
					}
					v, err := value()
					if err != nil {
						return nil, err
					}
					m.Put(kt.(string), v)
				}
				_, err := dec.Token()
				return m, err
			}
			l := &List{Kind: JSONArray, Items: []any{}}
			for dec.More() {
				v, err := value()
				if err != nil {
					return nil, err
				}
				l.Items = append(l.Items, v)
			}
			_, err := dec.Token()
			return l, err
		case json.Number:
			s := x.String()
			if strings.ContainsAny(s, ".eE") {
				p := &jsonParser{xs: s}
				return p.extractFloat(), nil
			}
			return parseSmartNumber(s), nil
		}
		return tok, nil
	}
	return value()
}
