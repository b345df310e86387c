package review

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// CodeChange is one Lambda function whose code differs between base and
// head: its asset (Code.S3Key, named by the hash of the build's inputs
// that package gofunction computes) or inline code.
type CodeChange struct {
	LogicalID string
	Path      string // construct path, when known
	Kind      string // changed, added or removed
	Old, New  string // the S3 keys (or "inline code")
}

// compareCode lists the functions whose code changed, by logical ID.
func compareCode(base, head *Stack) []CodeChange {
	oldCode, newCode := functionCode(base), functionCode(head)
	var out []CodeChange
	for id, n := range newCode {
		o, ok := oldCode[id]
		switch {
		case !ok:
			out = append(out, CodeChange{LogicalID: id, Path: constructPath(head, base, id), Kind: "added", New: n.label})
		case !bytes.Equal(o.raw, n.raw):
			out = append(out, CodeChange{LogicalID: id, Path: constructPath(head, base, id), Kind: "changed", Old: o.label, New: n.label})
		}
	}
	for id, o := range oldCode {
		if _, ok := newCode[id]; !ok {
			out = append(out, CodeChange{LogicalID: id, Path: constructPath(head, base, id), Kind: "removed", Old: o.label})
		}
	}
	slices.SortFunc(out, func(a, b CodeChange) int { return strings.Compare(a.LogicalID, b.LogicalID) })
	return out
}

type code struct {
	raw   []byte // the Code property, compact
	label string
}

func functionCode(s *Stack) map[string]code {
	out := map[string]code{}
	for id, r := range s.Template.Resources {
		if r.Type != "AWS::Lambda::Function" {
			continue
		}
		raw := r.Properties["Code"]
		var compact bytes.Buffer
		if json.Compact(&compact, raw) != nil {
			compact.Reset()
			compact.Write(raw)
		}
		var c struct {
			S3Key    any
			ZipFile  any
			ImageURI any `json:"ImageUri"`
		}
		_ = json.Unmarshal(raw, &c)
		label := "inline code"
		switch key := c.S3Key.(type) {
		case string:
			label = key
		case nil:
			if c.ImageURI != nil {
				label = "container image"
			}
		default:
			label = "S3 key " + compact.String()
		}
		out[id] = code{raw: compact.Bytes(), label: label}
	}
	return out
}

// constructPath is a logical ID's construct path, as a reader knows the
// resource ("Default/ConnectFunction"): head's, else base's, else "".
func constructPath(head, base *Stack, logicalID string) string {
	p, ok := head.LogicalPaths[logicalID]
	if !ok && base != nil {
		p = base.LogicalPaths[logicalID]
	}
	return shortPath(p)
}

// shortPath drops the stack and the L1 "Resource" child from a construct
// path, as `cdk diff` does.
func shortPath(p string) string {
	p = strings.TrimPrefix(p, "/")
	if _, rest, ok := strings.Cut(p, "/"); ok {
		p = rest
	}
	return strings.TrimSuffix(p, "/Resource")
}
