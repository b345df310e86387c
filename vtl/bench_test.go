package vtl_test

import (
	"io"
	"strings"
	"testing"

	"wsapi/mappingtemplates"
	"wsapi/vtl"
)

// body1KB is a 1 KiB chat frame with quotes, a backslash and non-ASCII
// text, so escapeJavaScript and the replaceAll have work to do.
var body1KB = func() string {
	var b strings.Builder
	b.WriteString(`{"action":"sendmessage","data":"`)
	for b.Len() < 1024-2 {
		b.WriteString(`it's "fine" \ é `)
	}
	s := b.String()[:1024-2] + `"}`
	return s
}()

// plain1KB is a 1 KiB frame of ordinary JSON with little to escape.
var plain1KB = func() string {
	var b strings.Builder
	b.WriteString(`{"action":"sendmessage","data":"`)
	for b.Len() < 1024-2 {
		b.WriteString("the quick brown fox jumps over the lazy dog ")
	}
	return b.String()[:1024-2] + `"}`
}()

func benchData() *vtl.APIGatewayData {
	return &vtl.APIGatewayData{
		Context: vtl.WebSocketContext{
			APIID: "a1b2c3d4e5", ConnectedAt: 1732442400000, ConnectionID: "L0SM9cOFvHcCIhw=",
			DomainName: "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com", EventType: "MESSAGE",
			MessageID: "L0SM9dQwvHcCJ2w=", RequestID: "L0SM9GmYvHcFtMQ=", RequestTimeEpoch: 1732442400123,
			RouteKey: "sendmessage", Stage: "prod",
			Authorizer: map[string]any{"principalId": "user|42", "sub": "0b8f3c2e", "username": "O'Brien", "email": "ob@example.com", "scope": "chat:read chat:write"},
			Identity:   vtl.Identity{SourceIP: "203.0.113.9", UserAgent: "Mozilla/5.0"},
		},
		Body: body1KB,
	}
}

func BenchmarkRenderMessage1KB(b *testing.B) {
	tmpl := vtl.MustParse("message.vtl", mappingtemplates.Message)
	data := benchData()
	b.SetBytes(int64(len(body1KB)))
	b.ReportAllocs()
	for b.Loop() {
		if err := tmpl.Render(io.Discard, data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderMessage1KBPlain(b *testing.B) {
	tmpl := vtl.MustParse("message.vtl", mappingtemplates.Message)
	data := benchData()
	data.Body = plain1KB
	b.SetBytes(int64(len(plain1KB)))
	b.ReportAllocs()
	for b.Loop() {
		if err := tmpl.Render(io.Discard, data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseMessage(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := vtl.Parse("message.vtl", mappingtemplates.Message); err != nil {
			b.Fatal(err)
		}
	}
}
