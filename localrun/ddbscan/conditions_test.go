package ddbscan

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	minidyn "github.com/truora/minidyn/server"
)

func TestFixContains(t *testing.T) {
	n := func(s string) *minidyn.AttributeValue { return &minidyn.AttributeValue{N: aws.String(s)} }
	present := map[string]*minidyn.AttributeValue{"segs": {NS: []*string{aws.String("1")}}}
	for _, tc := range []struct {
		name       string
		cond       string
		item       map[string]*minidyn.AttributeValue
		wantCond   string
		wantValues []string
	}{
		{name: "missing set", cond: "attribute_not_exists(#s) OR NOT contains(#s, :seg)", item: map[string]*minidyn.AttributeValue{},
			wantCond: "attribute_not_exists(#s) OR NOT attribute_exists(#s)", wantValues: []string{":other"}},
		{name: "present set: unchanged", cond: "attribute_not_exists(#s) OR NOT contains(#s, :seg)", item: present,
			wantCond: "attribute_not_exists(#s) OR NOT contains(#s, :seg)", wantValues: []string{":other", ":seg"}},
		{name: "plain name, nested path", cond: "contains(other.list[0], :seg) AND #s = :other", item: map[string]*minidyn.AttributeValue{},
			wantCond: "attribute_exists(other.list[0]) AND #s = :other", wantValues: []string{":other"}},
		{name: "a value used elsewhere is kept", cond: "NOT contains(#s, :other) AND size(#s) < :other", item: map[string]*minidyn.AttributeValue{},
			wantCond: "NOT attribute_exists(#s) AND size(#s) < :other", wantValues: []string{":other"}},
		{name: "not_contains is another name", cond: "xcontains(#s, :seg)", item: map[string]*minidyn.AttributeValue{},
			wantCond: "xcontains(#s, :seg)", wantValues: []string{":other", ":seg"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cond := aws.String(tc.cond)
			values := map[string]*minidyn.AttributeValue{":seg": n("1"), ":other": n("2")}
			fixContains(conditional{cond: &cond, names: map[string]string{"#s": "segs"}, values: &values, others: []string{"SET x = :other"}}, tc.item)
			if *cond != tc.wantCond {
				t.Errorf("condition %q, want %q", *cond, tc.wantCond)
			}
			var got []string
			for k := range values {
				got = append(got, k)
			}
			if diff := cmp.Diff(tc.wantValues, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
		})
	}
}
