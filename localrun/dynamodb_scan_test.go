package localrun

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"wsapi/contract"
	"wsapi/localrun/ddbscan"
)

// TestDynamoDBParallelScan: the local run's DynamoDB server (ddbscan behind
// withCRC32) answers a parallel scan through DynamoDBClient, the SDK
// checking every response's CRC32: the segments hold every row once, and
// DescribeTable counts them (live; see FIDELITY.md).
func TestDynamoDBParallelScan(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewServer(withCRC32(ddbscan.New()))
	defer srv.Close()
	c := DynamoDBClient(srv.URL)
	const tbl, rows, total = "conns", 250, 4
	if _, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(tbl), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(contract.AttrConnectionID), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(contract.AttrConnectionID), KeyType: types.KeyTypeHash}},
	}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < rows; i += 25 {
		var reqs []types.WriteRequest
		for j := i; j < i+25; j++ {
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
				contract.AttrConnectionID: &types.AttributeValueMemberS{Value: fmt.Sprintf("c%03d", j)},
			}}})
		}
		if _, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{tbl: reqs}}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	for seg := range int32(total) {
		p := dynamodb.NewScanPaginator(c, &dynamodb.ScanInput{
			TableName: aws.String(tbl), Segment: aws.Int32(seg), TotalSegments: aws.Int32(total),
			Limit: aws.Int32(10), ProjectionExpression: aws.String(contract.AttrConnectionID),
		})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("segment %d: %v", seg, err)
			}
			for _, it := range out.Items {
				seen[it[contract.AttrConnectionID].(*types.AttributeValueMemberS).Value]++
			}
		}
	}
	if len(seen) != rows {
		t.Errorf("%d rows scanned, want %d", len(seen), rows)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s scanned %d times", id, n)
		}
	}
	out, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tbl)})
	if err != nil {
		t.Fatal(err)
	}
	if n := aws.ToInt64(out.Table.ItemCount); n != rows {
		t.Errorf("ItemCount %d, want %d", n, rows)
	}
}
