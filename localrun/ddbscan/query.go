package ddbscan

import (
	"context"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	minidyn "github.com/truora/minidyn/server"
)

// query runs a Query on the shards that can hold its partition: for the
// table and its local indexes, the shards of the values it names (the
// partition key's value is one of them); for a global index, the shards
// that hold items with one of those values as the index's partition key
// (the shadow counts them), or every shard for an index it does not count
// (a number key), in order. Limit carries over from shard to shard;
// minidyn returns a LastEvaluatedKey whenever a shard's page reaches it,
// and the next page resumes in that key's shard.
func (h *Handler) query(ctx context.Context, in *minidyn.QueryInput) (any, error) {
	name := aws.ToString(in.TableName)
	sh, err := h.table(in.TableName)
	if err != nil {
		return nil, err
	}
	if err := sh.schema.checkIndex(in.IndexName); err != nil {
		return nil, err
	}
	candidates := h.queryShards(sh, in)
	if in.ScanIndexForward != nil && !*in.ScanIndexForward {
		slices.Reverse(candidates)
	}
	from := 0
	if len(in.ExclusiveStartKey) > 0 {
		s, err := sh.schema.shardOf(in.ExclusiveStartKey)
		if err != nil {
			return nil, errValidation("The provided starting key is invalid: The provided key element does not match the schema")
		}
		from = max(0, slices.Index(candidates, s))
	}
	limit := aws.ToInt32(in.Limit)
	result := &minidyn.QueryOutput{Items: []map[string]*minidyn.AttributeValue{}}
	for ci := from; ci < len(candidates); ci++ {
		q := *in
		q.TableName = aws.String(shardName(name, candidates[ci]))
		if ci != from {
			q.ExclusiveStartKey = nil
		}
		if limit > 0 {
			q.Limit = aws.Int32(limit - result.Count)
		}
		out, err := h.client.Query(ctx, &q)
		if err != nil {
			return nil, err
		}
		result.Items = append(result.Items, out.Items...)
		result.Count += out.Count
		if len(out.LastEvaluatedKey) > 0 {
			result.LastEvaluatedKey = out.LastEvaluatedKey
			break
		}
	}
	result.ScannedCount = result.Count
	return result, nil
}

func (h *Handler) queryShards(sh *shadow, in *minidyn.QueryInput) []int {
	// The values the query names: its partition key's value is one of them.
	var values []*minidyn.AttributeValue
	for _, v := range in.ExpressionAttributeValues {
		values = append(values, v)
	}
	for _, c := range in.KeyConditions {
		values = append(values, c.AttributeValueList...)
	}
	s := sh.schema
	if in.IndexName != nil {
		if ix, ok := s.indexes[*in.IndexName]; !ok || ix.global {
			h.mu.RLock()
			found, counted := sh.indexShards(*in.IndexName, values)
			h.mu.RUnlock()
			switch {
			case !counted:
				all := make([]int, shards)
				for i := range all {
					all[i] = i
				}
				return all
			case len(found) == 0:
				return []int{0} // no such item: one shard answers (and validates) the query
			}
			return found
		}
	}
	var out []int
	for _, v := range values {
		if i, err := s.shardOf(map[string]*minidyn.AttributeValue{s.hash: v}); err == nil && !slices.Contains(out, i) {
			out = append(out, i)
		}
	}
	if len(out) == 0 {
		return []int{0} // minidyn refuses a query without the partition key
	}
	slices.Sort(out)
	return out
}
