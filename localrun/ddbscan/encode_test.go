package ddbscan

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	minidyn "github.com/truora/minidyn/server"
)

// TestAppendValue: the same bytes as json.Marshal, for every type, except
// that an empty list or map is {"L":[]} or {"M":{}} as DynamoDB writes it
// (json.Marshal's omitempty drops it, leaving a value with no type).
func TestAppendValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    *minidyn.AttributeValue
		want string // when not json.Marshal's
	}{
		{"S", &minidyn.AttributeValue{S: aws.String("conn-1=")}, ""},
		{"S empty", &minidyn.AttributeValue{S: aws.String("")}, ""},
		{"S escapes", &minidyn.AttributeValue{S: aws.String("a\"b\\c\n\x00<&>\u2028é\xff")}, ""},
		{"N", &minidyn.AttributeValue{N: aws.String("-1.5e3")}, ""},
		{"B", &minidyn.AttributeValue{B: []byte{0, 1, 2, 255}}, ""},
		{"BOOL", &minidyn.AttributeValue{BOOL: aws.Bool(false)}, ""},
		{"NULL", &minidyn.AttributeValue{NULL: aws.Bool(true)}, ""},
		{"SS", &minidyn.AttributeValue{SS: aws.StringSlice([]string{"a", "b\"c"})}, ""},
		{"NS", &minidyn.AttributeValue{NS: aws.StringSlice([]string{"1", "2"})}, ""},
		{"BS", &minidyn.AttributeValue{BS: [][]byte{{1}, {2, 3}}}, ""},
		{"L", &minidyn.AttributeValue{L: []*minidyn.AttributeValue{{S: aws.String("x")}, {N: aws.String("1")}}}, ""},
		{"M", &minidyn.AttributeValue{M: map[string]*minidyn.AttributeValue{"z": {S: aws.String("1")}, "a\"": {L: []*minidyn.AttributeValue{}}}}, `{"M":{"a\"":{"L":[]},"z":{"S":"1"}}}`},
		{"empty M", &minidyn.AttributeValue{M: map[string]*minidyn.AttributeValue{}}, `{"M":{}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != "" {
				want = []byte(tc.want)
			}
			if got := appendValue(nil, tc.v); string(got) != string(want) {
				t.Errorf("appendValue = %s, want %s", got, want)
			}
		})
	}
}
