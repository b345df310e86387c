package ddbscan_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestParallelScanSegments: for several TotalSegments, the segments are
// disjoint and together hold every item; a segment's items are stable and
// none is lost or repeated while rows are deleted and added between pages
// (an item present for the whole scan is returned exactly once, API_Scan).
func TestParallelScanSegments(t *testing.T) {
	const rows = 2000
	c := newClient(t)
	load(t, c, 0, rows)
	for _, tc := range []struct {
		name   string
		total  int32
		limit  int32
		mutate bool
	}{
		{name: "1 segment", total: 1, limit: 1000},
		{name: "2 segments", total: 2, limit: 100},
		{name: "3 segments, limit 1", total: 3, limit: 7},
		{name: "20 segments", total: 20, limit: 50},
		{name: "100 segments", total: 100, limit: 5},
		{name: "5000 segments: more segments than hash buckets", total: 5000, limit: 1000},
		{name: "20 segments with deletes and puts between pages", total: 20, limit: 30, mutate: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			present := map[string]bool{} // rows present from start to end
			for i := range rows {
				present[connID(i)] = true
			}
			deleted, added := 0, rows+100_000
			var between func()
			if tc.mutate {
				between = func() {
					// Delete a row not yet necessarily seen, add a new one.
					id := connID(deleted * 7 % rows)
					deleted++
					if _, err := c.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{
						TableName: aws.String(table), Key: map[string]types.AttributeValue{idKey: &types.AttributeValueMemberS{Value: id}},
					}); err != nil {
						t.Fatalf("delete: %v", err)
					}
					delete(present, id)
					if _, err := c.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: row(added)}); err != nil {
						t.Fatalf("put: %v", err)
					}
					added++
				}
			}
			seen := map[string]int32{}
			for seg := range tc.total {
				for _, id := range scanSegment(t, c, seg, tc.total, tc.limit, between) {
					if prev, dup := seen[id]; dup {
						t.Fatalf("%s returned by segments %d and %d", id, prev, seg)
					}
					seen[id] = seg
				}
			}
			for id := range present {
				if _, ok := seen[id]; !ok {
					t.Errorf("%s, present throughout, not returned by any segment", id)
				}
			}
			if !tc.mutate && len(seen) != rows {
				t.Errorf("segments returned %d items, want %d", len(seen), rows)
			}
			if tc.mutate && deleted == 0 {
				t.Fatal("no page boundary: the mutation was never exercised")
			}
			// Restore the table for the next case.
			for i := range deleted {
				if _, err := c.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: row(i * 7 % rows)}); err != nil {
					t.Fatal(err)
				}
			}
			for i := rows + 100_000; i < added; i++ {
				if _, err := c.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{
					TableName: aws.String(table), Key: map[string]types.AttributeValue{idKey: &types.AttributeValueMemberS{Value: connID(i)}},
				}); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestParallelScanBalanced: with 20 segments, every segment holds a fair
// share of the rows (the fan-out's shards take about equal time).
func TestParallelScanBalanced(t *testing.T) {
	const rows, total = 10_000, 20
	c := newClient(t)
	load(t, c, 0, rows)
	for seg := range int32(total) {
		n := len(scanSegment(t, c, seg, total, 1000, nil))
		if n < rows/total*8/10 || n > rows/total*12/10 {
			t.Errorf("segment %d holds %d rows, want %d ± 20%%", seg, n, rows/total)
		}
	}
}

func TestScanValidation(t *testing.T) {
	c := newClient(t)
	load(t, c, 0, 50)
	other := func() map[string]types.AttributeValue {
		// A LastEvaluatedKey of segment 0 of 4, used with segment 1.
		out, err := c.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table), Segment: aws.Int32(0), TotalSegments: aws.Int32(4), Limit: aws.Int32(1)})
		if err != nil || len(out.LastEvaluatedKey) == 0 {
			t.Fatalf("scan segment 0: %v, %v", out, err)
		}
		return out.LastEvaluatedKey
	}
	for _, tc := range []struct {
		name string
		in   dynamodb.ScanInput
		want string // in the message
	}{
		{name: "Segment without TotalSegments", in: dynamodb.ScanInput{Segment: aws.Int32(0)}, want: "TotalSegments parameter is required"},
		{name: "TotalSegments without Segment", in: dynamodb.ScanInput{TotalSegments: aws.Int32(2)}, want: "Segment parameter is required"},
		{name: "TotalSegments 0", in: dynamodb.ScanInput{Segment: aws.Int32(0), TotalSegments: aws.Int32(0)}, want: "greater than or equal to 1"},
		{name: "TotalSegments over 1,000,000", in: dynamodb.ScanInput{Segment: aws.Int32(0), TotalSegments: aws.Int32(1_000_001)}, want: "less than or equal to 1000000"},
		{name: "negative Segment", in: dynamodb.ScanInput{Segment: aws.Int32(-1), TotalSegments: aws.Int32(2)}, want: "greater than or equal to 0"},
		{name: "Segment equal to TotalSegments", in: dynamodb.ScanInput{Segment: aws.Int32(2), TotalSegments: aws.Int32(2)}, want: "must be less than parameter TotalSegments"},
		{name: "Limit 0", in: dynamodb.ScanInput{Limit: aws.Int32(0)}, want: "at 'limit'"},
		{name: "ExclusiveStartKey of another segment", in: dynamodb.ScanInput{Segment: aws.Int32(1), TotalSegments: aws.Int32(4), ExclusiveStartKey: other()}, want: "correct Segment"},
		{name: "ExclusiveStartKey not a key", in: dynamodb.ScanInput{ExclusiveStartKey: map[string]types.AttributeValue{"nope": &types.AttributeValueMemberS{Value: "x"}}}, want: "starting key is invalid"},
		{name: "unknown index", in: dynamodb.ScanInput{IndexName: aws.String("nope")}, want: "does not have the specified index"},
		{name: "unused expression attribute name (minidyn's check)", in: dynamodb.ScanInput{ProjectionExpression: aws.String(idKey), ExpressionAttributeNames: map[string]string{"#x": "y"}}, want: "unused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.TableName = aws.String(table)
			_, err := c.Scan(context.Background(), &in)
			if code := apiCode(err); code != "ValidationException" {
				t.Fatalf("error %v (code %q), want a ValidationException", err, code)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
	t.Run("unknown table", func(t *testing.T) {
		_, err := c.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String("nope"), Segment: aws.Int32(0), TotalSegments: aws.Int32(2)})
		var nf *types.ResourceNotFoundException
		if !errors.As(err, &nf) {
			t.Fatalf("error %v, want ResourceNotFoundException", err)
		}
	})
}

// TestScanLimit: Limit is the number of items evaluated; a page that
// reaches it has a LastEvaluatedKey, even when nothing follows, and the
// next page is then empty without one.
func TestScanLimit(t *testing.T) {
	c := newClient(t)
	load(t, c, 0, 20)
	var pages []int
	in := &dynamodb.ScanInput{TableName: aws.String(table), Limit: aws.Int32(10)}
	for {
		out, err := c.Scan(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if int(out.Count) != len(out.Items) || out.ScannedCount != out.Count {
			t.Errorf("Count %d, ScannedCount %d, %d items", out.Count, out.ScannedCount, len(out.Items))
		}
		pages = append(pages, len(out.Items))
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		if len(out.LastEvaluatedKey) != 1 || idOf(t, out.LastEvaluatedKey) != idOf(t, out.Items[len(out.Items)-1]) {
			t.Errorf("LastEvaluatedKey %v is not the last item's key", out.LastEvaluatedKey)
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	if diff := cmp.Diff([]int{10, 10, 0}, pages); diff != "" {
		t.Errorf("page sizes (-want +got):\n%s", diff)
	}
	t.Run("resume after a deleted LastEvaluatedKey", func(t *testing.T) {
		// The fan-out deletes gone connections between pages, the page's
		// last one included, and resumes from its checkpointed key.
		seen := map[string]bool{}
		in := &dynamodb.ScanInput{TableName: aws.String(table), Segment: aws.Int32(0), TotalSegments: aws.Int32(1), Limit: aws.Int32(3)}
		deleted := map[string]bool{}
		for {
			out, err := c.Scan(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range out.Items {
				if seen[idOf(t, it)] {
					t.Fatalf("%s twice", idOf(t, it))
				}
				seen[idOf(t, it)] = true
			}
			if len(out.LastEvaluatedKey) == 0 {
				break
			}
			last := idOf(t, out.LastEvaluatedKey)
			if _, err := c.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: out.LastEvaluatedKey}); err != nil {
				t.Fatal(err)
			}
			deleted[last] = true
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
		if len(seen) != 20 || len(deleted) < 5 {
			t.Errorf("%d rows seen, want 20; %d deleted keys resumed from, want at least 5", len(seen), len(deleted))
		}
		for id := range deleted {
			if _, err := c.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{idKey: &types.AttributeValueMemberS{Value: id}}}); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("count", func(t *testing.T) {
		out, err := c.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table), Select: types.SelectCount})
		if err != nil {
			t.Fatal(err)
		}
		if out.Count != 20 || len(out.Items) != 0 {
			t.Errorf("Select COUNT: Count %d, %d items; want 20, none", out.Count, len(out.Items))
		}
	})
}

func TestScanProjection(t *testing.T) {
	c := newClient(t)
	load(t, c, 0, 30)
	for _, tc := range []struct {
		name string
		in   dynamodb.ScanInput
		want []string // attribute names of every item
	}{
		{name: "no projection", in: dynamodb.ScanInput{}, want: []string{"connectedAt", idKey, "expiresAt", "principalId"}},
		{name: "name", in: dynamodb.ScanInput{ProjectionExpression: aws.String(idKey)}, want: []string{idKey}},
		{name: "placeholders", in: dynamodb.ScanInput{ProjectionExpression: aws.String("#id, #at"), ExpressionAttributeNames: map[string]string{"#id": idKey, "#at": "connectedAt"}}, want: []string{"connectedAt", idKey}},
		{name: "an attribute no item has", in: dynamodb.ScanInput{ProjectionExpression: aws.String("missing, expiresAt")}, want: []string{"expiresAt"}},
		{name: "parallel scan", in: dynamodb.ScanInput{ProjectionExpression: aws.String(idKey), Segment: aws.Int32(1), TotalSegments: aws.Int32(3)}, want: []string{idKey}},
		{name: "with a filter (minidyn evaluates)", in: dynamodb.ScanInput{ProjectionExpression: aws.String(idKey), FilterExpression: aws.String("principalId = :p"), ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "user-3"}}}, want: []string{idKey}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.TableName = aws.String(table)
			out, err := c.Scan(context.Background(), &in)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Items) == 0 {
				t.Fatal("no items")
			}
			for _, it := range out.Items {
				var got []string
				for k := range it {
					got = append(got, k)
				}
				if diff := cmp.Diff(tc.want, got, cmpSorted); diff != "" {
					t.Fatalf("attributes (-want +got):\n%s", diff)
				}
			}
		})
	}
}

var cmpSorted = cmpopts.SortSlices(func(a, b string) bool { return a < b })

// TestFilteredParallelScan: a filter (evaluated by minidyn) with segments:
// the segments' union is the filtered set.
func TestFilteredParallelScan(t *testing.T) {
	c := newClient(t)
	load(t, c, 0, 500)
	seen := map[string]bool{}
	for seg := range int32(4) {
		in := &dynamodb.ScanInput{
			TableName: aws.String(table), Segment: aws.Int32(seg), TotalSegments: aws.Int32(4), Limit: aws.Int32(7),
			FilterExpression:          aws.String("principalId = :p"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "user-3"}},
		}
		for {
			out, err := c.Scan(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range out.Items {
				id := idOf(t, it)
				if seen[id] {
					t.Fatalf("%s twice", id)
				}
				seen[id] = true
			}
			if len(out.LastEvaluatedKey) == 0 {
				break
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
	if len(seen) != 50 {
		t.Errorf("%d items, want the 50 of user-3", len(seen))
	}
}

// TestDescribeTableItemCount: the live count (see FIDELITY.md: DynamoDB's
// is refreshed about every six hours).
func TestDescribeTableItemCount(t *testing.T) {
	c := newClient(t)
	load(t, c, 0, 321)
	out, err := c.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToInt64(out.Table.ItemCount); got != 321 {
		t.Errorf("ItemCount %d, want 321", got)
	}
	if got := aws.ToString(out.Table.TableName); got != table {
		t.Errorf("TableName %q, want %q", got, table)
	}
	if len(out.Table.GlobalSecondaryIndexes) != 1 || aws.ToInt64(out.Table.GlobalSecondaryIndexes[0].ItemCount) != 321 {
		t.Errorf("index %+v, want %s with 321 items", out.Table.GlobalSecondaryIndexes, index)
	}
}

// TestConcurrentScansAndWrites: segments scanned while other clients put
// and delete rows (run with -race): the rows no one touches are all
// returned, once.
func TestConcurrentScansAndWrites(t *testing.T) {
	const rows, total = 600, 6
	c := newClient(t)
	load(t, c, 0, rows)
	done := make(chan struct{})
	errs := make(chan error, 2)
	for w := range 2 {
		go func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				id := rows + 1000*w + i%50 // rows of their own
				if _, err := c.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: row(id)}); err != nil {
					errs <- err
					return
				}
				if _, err := c.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: key(connID(id))}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	results := make([][]string, total)
	var wg sync.WaitGroup
	for seg := range int32(total) {
		wg.Go(func() { results[seg] = scanSegment(t, c, seg, total, 17, nil) })
	}
	wg.Wait()
	close(done)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for _, ids := range results {
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("%s twice", id)
			}
			seen[id] = true
		}
	}
	for i := range rows {
		if !seen[connID(i)] {
			t.Errorf("%s not returned", connID(i))
		}
	}
}
