package ddbscan

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	minidyn "github.com/truora/minidyn/server"
)

const (
	maxTotalSegments = 1_000_000
	// maxPageBytes: "A single Scan operation reads up to the maximum number
	// of items set (if using the Limit parameter) or a maximum of 1 MB of
	// data" (API_Scan).
	maxPageBytes = 1 << 20
)

// segmentRange validates Segment and TotalSegments (API_Scan: TotalSegments
// 1 to 1,000,000; Segment 0 to TotalSegments-1; each requires the other)
// and returns the scan's bucket range. The messages follow DynamoDB's
// "1 validation error detected" form where AWS documents a constraint;
// their exact wording is the local run's.
func segmentRange(in *minidyn.ScanInput) (lo, hi int, err error) {
	switch {
	case in.Segment == nil && in.TotalSegments == nil:
		return 0, buckets, nil
	case in.Segment == nil:
		return 0, 0, errValidation("The Segment parameter is required but was not present in the request when parameter TotalSegments is present")
	case in.TotalSegments == nil:
		return 0, 0, errValidation("The TotalSegments parameter is required but was not present in the request when Segment parameter is present")
	}
	seg, total := int(*in.Segment), int(*in.TotalSegments)
	switch {
	case total < 1:
		return 0, 0, errValidation(fmt.Sprintf("1 validation error detected: Value '%d' at 'totalSegments' failed to satisfy constraint: Member must have value greater than or equal to 1", total))
	case total > maxTotalSegments:
		return 0, 0, errValidation(fmt.Sprintf("1 validation error detected: Value '%d' at 'totalSegments' failed to satisfy constraint: Member must have value less than or equal to 1000000", total))
	case seg < 0:
		return 0, 0, errValidation(fmt.Sprintf("1 validation error detected: Value '%d' at 'segment' failed to satisfy constraint: Member must have value greater than or equal to 0", seg))
	case seg >= total:
		return 0, 0, errValidation(fmt.Sprintf("The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: %d is not less than TotalSegments: %d", seg, total))
	}
	lo, hi = segmentBuckets(seg, total)
	return lo, hi, nil
}

// startPosition is where a scan resumes: after ExclusiveStartKey, which
// must hold the table's key and, in a parallel scan, belong to the segment
// (API_Scan: "In a parallel scan, a Scan request that includes
// ExclusiveStartKey must specify the same segment whose previous Scan
// returned the corresponding value of LastEvaluatedKey").
func startPosition(s *schema, in *minidyn.ScanInput, lo, hi int) (*position, error) {
	if len(in.ExclusiveStartKey) == 0 {
		return nil, nil
	}
	pos, err := s.positionOf(in.ExclusiveStartKey)
	if err != nil || (in.IndexName == nil && len(in.ExclusiveStartKey) != len(s.keyAttrs())) {
		return nil, errValidation("The provided starting key is invalid: The provided key element does not match the schema")
	}
	if pos.bucket < lo || pos.bucket >= hi {
		return nil, errValidation(fmt.Sprintf("The provided starting key is invalid: Invalid ExclusiveStartKey. Please use ExclusiveStartKey with correct Segment. TotalSegments: %d Segment: %d",
			aws.ToInt32(in.TotalSegments), aws.ToInt32(in.Segment)))
	}
	return &pos, nil
}

func (h *Handler) scan(ctx context.Context, in *minidyn.ScanInput) (any, error) {
	name := aws.ToString(in.TableName)
	sh, err := h.table(in.TableName)
	if err != nil {
		return nil, err
	}
	if err := sh.schema.checkIndex(in.IndexName); err != nil {
		return nil, err
	}
	lo, hi, err := segmentRange(in)
	if err != nil {
		return nil, err
	}
	if in.Limit != nil && *in.Limit < 1 {
		return nil, errValidation(fmt.Sprintf("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1", *in.Limit))
	}
	start, err := startPosition(sh.schema, in, lo, hi)
	if err != nil {
		return nil, err
	}
	// minidyn validates the expressions (placeholders, syntax, unused
	// names and values) on an empty table of the same schema.
	check := *in
	check.TableName = aws.String(emptyName(name))
	check.Segment, check.TotalSegments = nil, nil
	if _, err := h.client.Scan(ctx, &check); err != nil {
		return nil, err
	}
	proj, simple := projection(in)
	if in.IndexName == nil && aws.ToString(in.FilterExpression) == "" && len(in.ScanFilter) == 0 && simple {
		return h.scanShadow(sh, in, lo, hi, start, proj), nil
	}
	return h.scanShards(ctx, name, sh, in, lo, hi, start, proj, simple)
}

// projection resolves a ProjectionExpression (or AttributesToGet) of
// top-level attribute names; simple is false for document paths (a.b,
// a[0]), which minidyn evaluates. A nil list means every attribute.
func projection(in *minidyn.ScanInput) (names []string, simple bool) {
	if len(in.AttributesToGet) > 0 {
		return in.AttributesToGet, true
	}
	expr := aws.ToString(in.ProjectionExpression)
	if strings.TrimSpace(expr) == "" {
		return nil, true
	}
	for _, p := range strings.Split(expr, ",") {
		p = strings.TrimSpace(p)
		if p == "" || strings.ContainsAny(p, ".[] ") {
			return nil, false
		}
		if strings.HasPrefix(p, "#") {
			n, ok := in.ExpressionAttributeNames[p]
			if !ok {
				return nil, false
			}
			p = n
		}
		names = append(names, p)
	}
	return names, true
}

// page writes a Scan response as the items are added.
type page struct {
	buf          bytes.Buffer
	count        bool     // Select COUNT: no items
	names        []string // the projection; nil: every attribute
	n, bytes     int
	limit        int
	lastKey      []byte
	lastEvaluate bool
}

func newPage(in *minidyn.ScanInput, proj []string) *page {
	p := &page{count: in.Select == ddbtypes.SelectCount, names: proj, limit: int(aws.ToInt32(in.Limit))}
	p.buf.Grow(64 * min(max(p.limit, 16), 4096))
	p.buf.WriteString(`{"Items":[`)
	return p
}

// add writes one item and reports whether the page has room for more.
func (p *page) add(e *entry) bool {
	if !p.count {
		if p.n > 0 {
			p.buf.WriteByte(',')
		}
		p.buf.WriteByte('{')
		if p.names == nil {
			p.buf.Write(e.data)
		} else {
			first := true
			for _, n := range p.names {
				if a, ok := e.attr(n); ok {
					if !first {
						p.buf.WriteByte(',')
					}
					first = false
					p.buf.Write(a)
				}
			}
		}
		p.buf.WriteByte('}')
	}
	p.n++
	p.bytes += len(e.data)
	p.lastKey = e.key
	if (p.limit > 0 && p.n >= p.limit) || p.bytes >= maxPageBytes {
		p.lastEvaluate = true
		return false
	}
	return true
}

func (p *page) finish() rawResponse {
	p.buf.WriteString(`],"Count":`)
	p.buf.WriteString(strconv.Itoa(p.n))
	p.buf.WriteString(`,"ScannedCount":`)
	p.buf.WriteString(strconv.Itoa(p.n))
	if p.lastEvaluate {
		p.buf.WriteString(`,"LastEvaluatedKey":`)
		p.buf.Write(p.lastKey)
	}
	p.buf.WriteString("}\n")
	return rawResponse(p.buf.Bytes())
}

// scanShadow serves a scan of the table itself from its shadow.
func (h *Handler) scanShadow(sh *shadow, in *minidyn.ScanInput, lo, hi int, start *position, proj []string) rawResponse {
	p := newPage(in, proj)
	h.mu.RLock()
	defer h.mu.RUnlock()
	sh.each(lo, hi, start, p.add)
	return p.finish()
}

// scanShards serves the scans minidyn must evaluate (filters, indexes,
// document paths) shard by shard, in the same order as the shadow. Limit
// counts the items minidyn returns, that is after the filter.
func (h *Handler) scanShards(ctx context.Context, name string, sh *shadow, in *minidyn.ScanInput, lo, hi int, start *position, proj []string, simple bool) (any, error) {
	p := newPage(in, proj)
	if lo >= hi {
		return p.finish(), nil
	}
	first, last := shardOfBucket(lo), shardOfBucket(hi-1)
	if start != nil {
		first = max(first, shardOfBucket(start.bucket))
	}
	// The shards are read whole, without the projection (positions need
	// the keys), passing on only the names and values the filter uses.
	q := *in
	q.ExclusiveStartKey, q.Limit, q.Segment, q.TotalSegments = nil, nil, nil, nil
	q.ProjectionExpression, q.AttributesToGet, q.Select = nil, nil, ""
	filter := aws.ToString(in.FilterExpression)
	q.ExpressionAttributeNames = used(in.ExpressionAttributeNames, filter)
	q.ExpressionAttributeValues = used(in.ExpressionAttributeValues, filter)
	type found struct {
		pos  position
		item map[string]*minidyn.AttributeValue
	}
	keyAttrs := sh.schema.keyAttrs()
	if in.IndexName != nil {
		if ix, ok := sh.schema.indexes[*in.IndexName]; ok {
			keyAttrs = appendNew(keyAttrs, ix.hash, ix.rangeKey)
		}
	}
	for s := first; s <= last; s++ {
		q.TableName = aws.String(shardName(name, s))
		out, err := h.client.Scan(ctx, &q)
		if err != nil {
			return nil, err
		}
		var items []found
		for _, it := range out.Items {
			pos, err := sh.schema.positionOf(it)
			if err != nil || pos.bucket < lo || pos.bucket >= hi || (start != nil && !start.less(pos)) {
				continue
			}
			items = append(items, found{pos, it})
		}
		slices.SortFunc(items, func(a, b found) int {
			if a.pos.less(b.pos) {
				return -1
			}
			return 1
		})
		for _, f := range items {
			item := f.item
			if !simple {
				var err error
				if item, err = h.projectDocument(ctx, q.TableName, sh.schema, in, f.item); err != nil {
					return nil, err
				}
			}
			e := newEntry(sh.schema, f.pos, item)
			e.key = keyJSON(f.item, keyAttrs)
			if !p.add(e) {
				return p.finish(), nil
			}
		}
	}
	return p.finish(), nil
}

// projectDocument projects an item of shard with document paths through
// minidyn.
func (h *Handler) projectDocument(ctx context.Context, shard *string, s *schema, in *minidyn.ScanInput, item map[string]*minidyn.AttributeValue) (map[string]*minidyn.AttributeValue, error) {
	expr := aws.ToString(in.ProjectionExpression)
	out, err := h.client.GetItem(ctx, &minidyn.GetItemInput{
		TableName: shard, Key: s.keyOf(item), ProjectionExpression: in.ProjectionExpression,
		ExpressionAttributeNames: used(in.ExpressionAttributeNames, expr),
	})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

// keyJSON is the LastEvaluatedKey of item: the key attributes it has.
func keyJSON(item map[string]*minidyn.AttributeValue, attrs []string) []byte {
	key := map[string]*minidyn.AttributeValue{}
	for _, k := range attrs {
		if v, ok := item[k]; ok && v != nil {
			key[k] = v
		}
	}
	b, _ := json.Marshal(key)
	return b
}

// mentions reports whether expr uses the placeholder (#name or :value),
// not merely a longer one it prefixes.
func mentions(expr, placeholder string) bool {
	for i := 0; ; {
		j := strings.Index(expr[i:], placeholder)
		if j < 0 {
			return false
		}
		end := i + j + len(placeholder)
		if end == len(expr) || !isNameByte(expr[end]) {
			return true
		}
		i = end
	}
}

func isNameByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// used is the entries of placeholders (names or values) that expr
// mentions (none: nil), as minidyn refuses unused ones.
func used[V any](placeholders map[string]V, expr string) map[string]V {
	var out map[string]V
	for k, v := range placeholders {
		if mentions(expr, k) {
			if out == nil {
				out = map[string]V{}
			}
			out[k] = v
		}
	}
	return out
}

func appendNew(list []string, names ...string) []string {
	out := slices.Clone(list)
	for _, n := range names {
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
