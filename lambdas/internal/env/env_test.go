package env

import (
	"strings"
	"testing"
)

func lookup(m map[string]string) Getenv {
	return func(name string) string { return m[name] }
}

func TestRequired(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr string
	}{
		{name: "set", env: map[string]string{"X": "table"}, want: "table"},
		{name: "trimmed", env: map[string]string{"X": " table\n"}, want: "table"},
		{name: "unset", env: map[string]string{}, wantErr: "X is not set"},
		{name: "blank", env: map[string]string{"X": "  "}, wantErr: "X is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Required(lookup(tt.env), "X")
			checkErr(t, err, tt.wantErr)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestInt(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    int
		wantErr string
	}{
		{name: "unset means default", value: "", want: 16},
		{name: "value", value: "32", want: 32},
		{name: "low bound", value: "1", want: 1},
		{name: "high bound", value: "256", want: 256},
		{name: "below", value: "0", wantErr: `X="0": want an integer from 1 to 256`},
		{name: "above", value: "257", wantErr: "want an integer from 1 to 256"},
		{name: "not a number", value: "sixteen", wantErr: "want an integer"},
		{name: "fraction", value: "1.5", wantErr: "want an integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Int(lookup(map[string]string{"X": tt.value}), "X", 16, 1, 256)
			checkErr(t, err, tt.wantErr)
			if got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestURL(t *testing.T) {
	const want = "an https URL"
	tests := []struct {
		name, value, want, wantErr string
	}{
		{name: "https", value: "https://abc.execute-api.eu-west-1.amazonaws.com/prod", want: "https://abc.execute-api.eu-west-1.amazonaws.com/prod"},
		{name: "trailing slash dropped", value: "https://h/prod/", want: "https://h/prod"},
		{name: "http, for local runs", value: " http://127.0.0.1:3001/prod ", want: "http://127.0.0.1:3001/prod"},
		{name: "unset", value: "", wantErr: "X is not set"},
		{name: "other scheme", value: "ftp://h/prod", wantErr: `X="ftp://h/prod": want an https URL`},
		{name: "no scheme", value: "h/prod", wantErr: "want an https URL"},
		{name: "no host", value: "https:///prod", wantErr: "want an https URL"},
		{name: "user info", value: "https://u:p@h/prod", wantErr: "want an https URL"},
		{name: "query", value: "https://h/prod?x=1", wantErr: "want an https URL"},
		{name: "fragment", value: "https://h/prod#x", wantErr: "want an https URL"},
		{name: "unparsable", value: "https://h/%zz", wantErr: "want an https URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := URL(lookup(map[string]string{"X": tt.value}), "X", want)
			checkErr(t, err, tt.wantErr)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Fatalf("error = %v, want one containing %q", err, want)
	}
}
