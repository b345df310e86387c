package fanoutaws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"wsapi/contract"
	"wsapi/lambdas/internal/fanout"
)

// Scanner is the DynamoDB call ScanPager makes.
type Scanner interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

var (
	_ Scanner      = (*dynamodb.Client)(nil)
	_ fanout.Pager = (*ScanPager)(nil)
)

// ScanPager reads the connections table by parallel-scan segment: "Segment
// … identifies an individual segment to be scanned by an application
// worker", TotalSegments being the number of workers (1 to 1,000,000), and
// a page ends at Limit items or 1 MB, with LastEvaluatedKey to pass as the
// next page's ExclusiveStartKey, absent after the segment's last page
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Scan.html#Scan.ParallelScan,
// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Scan.html).
type ScanPager struct {
	client Scanner
	table  string
	limit  int32
}

// NewScanPager returns a ScanPager on the named table reading pages of at
// most pageSize items (DynamoDB's own 1 MB pages when pageSize <= 0).
func NewScanPager(client Scanner, table string, pageSize int) *ScanPager {
	return &ScanPager{client: client, table: table, limit: int32(max(pageSize, 0))}
}

// Page reads one page of the segment. The key strings are JSON of the
// LastEvaluatedKey (see encodeKey).
func (p *ScanPager) Page(ctx context.Context, segment, total int, startKey string) ([]string, string, error) {
	in := &dynamodb.ScanInput{
		TableName:                aws.String(p.table),
		Segment:                  aws.Int32(int32(segment)),
		TotalSegments:            aws.Int32(int32(total)),
		ProjectionExpression:     aws.String("#id"),
		ExpressionAttributeNames: map[string]string{"#id": contract.AttrConnectionID},
	}
	if p.limit > 0 {
		in.Limit = aws.Int32(p.limit)
	}
	if startKey != "" {
		k, err := decodeKey(startKey)
		if err != nil {
			return nil, "", err
		}
		in.ExclusiveStartKey = k
	}
	out, err := p.client.Scan(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("scan %s segment %d of %d: %w", p.table, segment, total, err)
	}
	ids := make([]string, 0, len(out.Items))
	for _, item := range out.Items {
		id, ok := item[contract.AttrConnectionID].(*types.AttributeValueMemberS)
		if !ok || id.Value == "" {
			// The key attribute is always a string; anything else is a
			// table that is not ours.
			return nil, "", fmt.Errorf("scan %s: item without a string %s", p.table, contract.AttrConnectionID)
		}
		ids = append(ids, id.Value)
	}
	if len(out.LastEvaluatedKey) == 0 {
		return ids, "", nil
	}
	next, err := encodeKey(out.LastEvaluatedKey)
	if err != nil {
		return nil, "", fmt.Errorf("scan %s: %w", p.table, err)
	}
	return ids, next, nil
}

// keyValue is one key attribute in DynamoDB's JSON shape: key attributes
// are strings, numbers or binaries.
type keyValue struct {
	S *string `json:"S,omitempty"`
	N *string `json:"N,omitempty"`
	B []byte  `json:"B,omitempty"`
}

var errKey = errors.New("invalid scan key")

// encodeKey writes a key as JSON, {"connectionId":{"S":"..."}}: what the
// checkpoint stores, opaque to the worker.
func encodeKey(k map[string]types.AttributeValue) (string, error) {
	m := make(map[string]keyValue, len(k))
	for name, v := range k {
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			m[name] = keyValue{S: aws.String(v.Value)}
		case *types.AttributeValueMemberN:
			m[name] = keyValue{N: aws.String(v.Value)}
		case *types.AttributeValueMemberB:
			m[name] = keyValue{B: v.Value}
		default:
			return "", fmt.Errorf("%w: attribute %q of type %T", errKey, name, v)
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode scan key: %w", err)
	}
	return string(b), nil
}

func decodeKey(s string) (map[string]types.AttributeValue, error) {
	var m map[string]keyValue
	if err := json.Unmarshal([]byte(s), &m); err != nil || len(m) == 0 {
		return nil, fmt.Errorf("%w: %q", errKey, s)
	}
	k := make(map[string]types.AttributeValue, len(m))
	for name, v := range m {
		switch {
		case v.S != nil && v.N == nil && v.B == nil:
			k[name] = &types.AttributeValueMemberS{Value: *v.S}
		case v.N != nil && v.S == nil && v.B == nil:
			k[name] = &types.AttributeValueMemberN{Value: *v.N}
		case v.B != nil && v.S == nil && v.N == nil:
			k[name] = &types.AttributeValueMemberB{Value: v.B}
		default:
			return nil, fmt.Errorf("%w: attribute %q", errKey, name)
		}
	}
	return k, nil
}

// TableDescriber is the DynamoDB call TableSize makes.
type TableDescriber interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

var (
	_ TableDescriber     = (*dynamodb.Client)(nil)
	_ fanout.ItemCounter = (*TableSize)(nil)
)

// TableSize reads a table's approximate item count: DescribeTable's
// ItemCount, "updated approximately every six hours"
// (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TableDescription.html).
type TableSize struct {
	client TableDescriber
	table  string
}

// NewTableSize returns a TableSize of the named table.
func NewTableSize(client TableDescriber, table string) *TableSize {
	return &TableSize{client: client, table: table}
}

// ItemCount returns the table's ItemCount, 0 when DynamoDB gives none.
func (t *TableSize) ItemCount(ctx context.Context) (int64, error) {
	out, err := t.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(t.table)})
	if err != nil {
		return 0, fmt.Errorf("describe table %s: %w", t.table, err)
	}
	if out.Table == nil || out.Table.ItemCount == nil {
		return 0, nil
	}
	return *out.Table.ItemCount, nil
}
