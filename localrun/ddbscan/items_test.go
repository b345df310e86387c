package ddbscan_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"
)

func key(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{idKey: &types.AttributeValueMemberS{Value: id}}
}

// scanAll is every id a plain Scan returns, paged by 3.
func scanAll(t *testing.T, c *dynamodb.Client) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	in := &dynamodb.ScanInput{TableName: aws.String(table), Limit: aws.Int32(3)}
	for {
		out, err := c.Scan(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			ids[idOf(t, it)] = true
		}
		if len(out.LastEvaluatedKey) == 0 {
			return ids
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// TestItemOperations: the operations the stack's functions use keep
// minidyn's semantics through the shards, and every write shows in scans.
func TestItemOperations(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	load(t, c, 0, 10)

	t.Run("conditional put of an existing row fails", func(t *testing.T) {
		_, err := c.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(table), Item: row(3),
			ConditionExpression:      aws.String("attribute_not_exists(#id)"),
			ExpressionAttributeNames: map[string]string{"#id": idKey},
		})
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			t.Fatalf("error %v, want ConditionalCheckFailedException", err)
		}
	})
	t.Run("put returns the old item only with ALL_OLD", func(t *testing.T) {
		out, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: row(4)})
		if err != nil || len(out.Attributes) != 0 {
			t.Fatalf("put: %v, attributes %v; want none", err, out.Attributes)
		}
		out, err = c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: row(4), ReturnValues: types.ReturnValueAllOld})
		if err != nil || idOf(t, out.Attributes) != connID(4) {
			t.Fatalf("put ALL_OLD: %v, attributes %v", err, out.Attributes)
		}
	})
	t.Run("update creates, adds and returns ALL_NEW", func(t *testing.T) {
		for want := 1; want <= 2; want++ {
			out, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName: aws.String(table), Key: key("job-1"),
				UpdateExpression:    aws.String("SET totalShards = if_not_exists(totalShards, :n) ADD delivered :one, segmentsDone :seg"),
				ConditionExpression: aws.String("attribute_not_exists(segmentsDone) OR NOT contains(segmentsDone, :s)"),
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":n": &types.AttributeValueMemberN{Value: "4"}, ":one": &types.AttributeValueMemberN{Value: "1"},
					":seg": &types.AttributeValueMemberNS{Value: []string{fmt.Sprint(want)}}, ":s": &types.AttributeValueMemberN{Value: fmt.Sprint(want)},
				},
				ReturnValues: types.ReturnValueAllNew,
			})
			if err != nil {
				t.Fatalf("update %d: %v", want, err)
			}
			got, ok := out.Attributes["delivered"].(*types.AttributeValueMemberN)
			if !ok || got.Value != fmt.Sprint(want) {
				t.Errorf("update %d: delivered %v", want, out.Attributes["delivered"])
			}
		}
		if !scanAll(t, c)["job-1"] {
			t.Error("the row UpdateItem created is not in a scan")
		}
		// The fan-out's once-per-segment condition, on a new row and on a
		// row whose set has the segment (minidyn alone fails the first).
		add := func(job string, seg int) error {
			_, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName: aws.String(table), Key: key(job),
				UpdateExpression:         aws.String("ADD #done :one, #segs :segs"),
				ConditionExpression:      aws.String("attribute_not_exists(#segs) OR NOT contains(#segs, :seg)"),
				ExpressionAttributeNames: map[string]string{"#done": "shardsDone", "#segs": "segmentsDone"},
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":one": &types.AttributeValueMemberN{Value: "1"}, ":segs": &types.AttributeValueMemberNS{Value: []string{fmt.Sprint(seg)}},
					":seg": &types.AttributeValueMemberN{Value: fmt.Sprint(seg)},
				},
			})
			return err
		}
		if err := add("job-2", 0); err != nil {
			t.Fatalf("first segment of a new job: %v", err)
		}
		if err := add("job-2", 1); err != nil {
			t.Fatalf("second segment: %v", err)
		}
		var ccf *types.ConditionalCheckFailedException
		if err := add("job-2", 1); !errors.As(err, &ccf) {
			t.Fatalf("the same segment again: %v, want ConditionalCheckFailedException", err)
		}
	})
	t.Run("get", func(t *testing.T) {
		out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key(connID(7)), ProjectionExpression: aws.String("principalId")})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]string{"principalId": "user-7"}, stringAttrs(out.Item)); diff != "" {
			t.Errorf("item (-want +got):\n%s", diff)
		}
	})
	t.Run("delete shows in scans", func(t *testing.T) {
		if _, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: key(connID(5))}); err != nil {
			t.Fatal(err)
		}
		if scanAll(t, c)[connID(5)] {
			t.Error("deleted row still scanned")
		}
	})
	t.Run("batch get", func(t *testing.T) {
		out, err := c.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
			table: {Keys: []map[string]types.AttributeValue{key(connID(1)), key(connID(2)), key(connID(5))}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(out.Responses[table]); n != 2 {
			t.Errorf("%d items, want 2 (row 5 is gone)", n)
		}
	})
	t.Run("transaction", func(t *testing.T) {
		_, err := c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String(table), Item: row(100)}},
			{Delete: &types.Delete{TableName: aws.String(table), Key: key(connID(6))}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		ids := scanAll(t, c)
		if !ids[connID(100)] || ids[connID(6)] {
			t.Errorf("after the transaction: row 100 scanned %v (want true), row 6 scanned %v (want false)", ids[connID(100)], ids[connID(6)])
		}
		_, err = c.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String(table), Item: row(101)}},
			{ConditionCheck: &types.ConditionCheck{TableName: aws.String(table), Key: key(connID(6)), ConditionExpression: aws.String("attribute_exists(connectionId)")}},
		}})
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			t.Fatalf("error %v, want TransactionCanceledException", err)
		}
		if scanAll(t, c)[connID(101)] {
			t.Error("a cancelled transaction's put is scanned")
		}
	})
}

func stringAttrs(item map[string]types.AttributeValue) map[string]string {
	out := map[string]string{}
	for k, v := range item {
		if s, ok := v.(*types.AttributeValueMemberS); ok {
			out[k] = s.Value
		}
	}
	return out
}

// TestQuery: a global index's rows are spread over every shard; the query
// finds them all, page by page, with Limit carried over the shards.
func TestQuery(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	load(t, c, 0, 300)
	for _, limit := range []int32{0, 1, 7, 30, 1000} {
		t.Run(fmt.Sprintf("index, limit %d", limit), func(t *testing.T) {
			in := &dynamodb.QueryInput{
				TableName: aws.String(table), IndexName: aws.String(index),
				KeyConditionExpression:    aws.String("#p = :p"),
				ProjectionExpression:      aws.String("#id"),
				ExpressionAttributeNames:  map[string]string{"#p": "principalId", "#id": idKey},
				ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "user-4"}},
			}
			if limit > 0 {
				in.Limit = aws.Int32(limit)
			}
			ids := queryIDs(t, c, in)
			if len(ids) != 30 {
				t.Errorf("%d connections of user-4, want 30", len(ids))
			}
		})
	}
	t.Run("table", func(t *testing.T) {
		out, err := c.Query(ctx, &dynamodb.QueryInput{
			TableName: aws.String(table), KeyConditionExpression: aws.String("connectionId = :id"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":id": &types.AttributeValueMemberS{Value: connID(42)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Items) != 1 || idOf(t, out.Items[0]) != connID(42) {
			t.Errorf("items %v, want row 42", out.Items)
		}
	})
}

// TestQueryIndexFollowsWrites checks that a query on the global index sees
// every write that moves an item in or out of a partition of the index:
// puts, a principal changed by UpdateItem or by a replacing PutItem, a
// row without the index's key (not in the sparse index), deletes, and a
// batch write.
func TestQueryIndexFollowsWrites(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	principal := func(p string) []string {
		t.Helper()
		return queryIDs(t, c, &dynamodb.QueryInput{
			TableName: aws.String(table), IndexName: aws.String(index),
			KeyConditionExpression:    aws.String("principalId = :p"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: p}},
		})
	}
	put := func(id, p string) {
		t.Helper()
		item := map[string]types.AttributeValue{idKey: &types.AttributeValueMemberS{Value: id}}
		if p != "" {
			item["principalId"] = &types.AttributeValueMemberS{Value: p}
		}
		if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	key := func(id string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{idKey: &types.AttributeValueMemberS{Value: id}}
	}
	steps := []struct {
		name string
		do   func()
		want map[string][]string
	}{
		{"puts", func() { put("a1", "alice"); put("a2", "alice"); put("b1", "bob") },
			map[string][]string{"alice": {"a1", "a2"}, "bob": {"b1"}}},
		{"update moves a row", func() {
			if _, err := c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table), Key: key("a2"),
				UpdateExpression:          aws.String("SET principalId = :p"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "bob"}}}); err != nil {
				t.Fatal(err)
			}
		}, map[string][]string{"alice": {"a1"}, "bob": {"a2", "b1"}}},
		{"put replaces a row", func() { put("b1", "carol") },
			map[string][]string{"alice": {"a1"}, "bob": {"a2"}, "carol": {"b1"}}},
		{"a row leaves the sparse index", func() { put("a1", "") },
			map[string][]string{"alice": nil, "bob": {"a2"}, "carol": {"b1"}}},
		{"delete", func() {
			if _, err := c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: key("a2")}); err != nil {
				t.Fatal(err)
			}
		}, map[string][]string{"bob": nil, "carol": {"b1"}}},
		{"batch write", func() { load(t, c, 0, 40) },
			map[string][]string{"carol": {"b1"}, "user-3": {connID(3), connID(13), connID(23), connID(33)}}},
	}
	for _, st := range steps {
		st.do()
		for p, want := range st.want {
			if got := principal(p); !slices.Equal(got, want) {
				t.Errorf("after %s: principal %s has %v, want %v", st.name, p, got, want)
			}
		}
	}
}
