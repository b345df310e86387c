package ddbscan_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"wsapi/localrun/ddbscan"
)

const (
	table = "Connections"
	idKey = "connectionId"
	index = "byPrincipal"
)

// newClient serves a fresh Handler and returns an SDK client for it,
// configured as localrun.DynamoDBClient configures its own (that package's
// TestDynamoDB... tests go through it), with the table created.
func newClient(tb testing.TB) *dynamodb.Client {
	tb.Helper()
	srv := httptest.NewServer(ddbscan.New())
	tb.Cleanup(srv.Close)
	c := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local", ""),
	})
	_, err := c.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(idKey), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("principalId"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String(idKey), KeyType: types.KeyTypeHash}},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName:  aws.String(index),
			KeySchema:  []types.KeySchemaElement{{AttributeName: aws.String("principalId"), KeyType: types.KeyTypeHash}},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}},
	})
	if err != nil {
		tb.Fatalf("create table: %v", err)
	}
	return c
}

func connID(i int) string { return fmt.Sprintf("conn-%06d=", i) }

func row(i int) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		idKey:         &types.AttributeValueMemberS{Value: connID(i)},
		"principalId": &types.AttributeValueMemberS{Value: fmt.Sprintf("user-%d", i%10)},
		"connectedAt": &types.AttributeValueMemberN{Value: fmt.Sprint(1700000000000 + i)},
		"expiresAt":   &types.AttributeValueMemberN{Value: "1900000000"},
	}
}

// load writes rows [from, to) with BatchWriteItem, 25 a call.
func load(tb testing.TB, c *dynamodb.Client, from, to int) {
	tb.Helper()
	for i := from; i < to; i += 25 {
		var reqs []types.WriteRequest
		for j := i; j < min(i+25, to); j++ {
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: row(j)}})
		}
		out, err := c.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}})
		if err != nil {
			tb.Fatalf("batch write: %v", err)
		}
		if len(out.UnprocessedItems) > 0 {
			tb.Fatalf("unprocessed items: %v", out.UnprocessedItems)
		}
	}
}

func idOf(tb testing.TB, item map[string]types.AttributeValue) string {
	tb.Helper()
	s, ok := item[idKey].(*types.AttributeValueMemberS)
	if !ok {
		tb.Fatalf("item without %s: %v", idKey, item)
	}
	return s.Value
}

// queryIDs pages through a Query and returns the ids, sorted; a page over
// the input's Limit or an id seen twice fails the test.
func queryIDs(tb testing.TB, c *dynamodb.Client, in *dynamodb.QueryInput) []string {
	tb.Helper()
	var ids []string
	seen := map[string]bool{}
	for {
		out, err := c.Query(context.Background(), in)
		if err != nil {
			tb.Fatal(err)
		}
		if limit := aws.ToInt32(in.Limit); limit > 0 && len(out.Items) > int(limit) {
			tb.Fatalf("%d items in a page, Limit %d", len(out.Items), limit)
		}
		for _, it := range out.Items {
			id := idOf(tb, it)
			if seen[id] {
				tb.Fatalf("%s twice", id)
			}
			seen[id] = true
			ids = append(ids, id)
		}
		if len(out.LastEvaluatedKey) == 0 {
			slices.Sort(ids)
			return ids
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// scanSegment pages through one segment and returns the ids, page by page
// calling between (if not nil) after each page.
func scanSegment(tb testing.TB, c *dynamodb.Client, seg, total int32, limit int32, between func()) []string {
	tb.Helper()
	var ids []string
	in := &dynamodb.ScanInput{
		TableName: aws.String(table), Segment: aws.Int32(seg), TotalSegments: aws.Int32(total),
		Limit: aws.Int32(limit), ProjectionExpression: aws.String(idKey),
	}
	for {
		out, err := c.Scan(context.Background(), in)
		if err != nil {
			tb.Fatalf("scan segment %d of %d: %v", seg, total, err)
		}
		for _, it := range out.Items {
			ids = append(ids, idOf(tb, it))
		}
		if len(out.LastEvaluatedKey) == 0 {
			return ids
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
		if between != nil {
			between()
		}
	}
}

func apiCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}
