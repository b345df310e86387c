package fanoutaws

import (
	"fmt"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"
	"github.com/truora/minidyn/server"

	"wsapi/contract"
	"wsapi/lambdas/internal/fanout"
)

// localDynamoDB returns a client of an in-process DynamoDB API server
// (minidyn) on 127.0.0.1 with one table of hash key keyName.
func localDynamoDB(t *testing.T, table, keyName string) *dynamodb.Client {
	t.Helper()
	srv := httptest.NewServer(server.NewServer())
	t.Cleanup(srv.Close)
	db := dynamodb.NewFromConfig(aws.Config{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", ""),
		BaseEndpoint: aws.String(srv.URL),
	})
	_, err := db.CreateTable(t.Context(), &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(keyName), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(keyName), KeyType: types.KeyTypeHash}},
	})
	if err != nil {
		t.Fatalf("create table: %v", err)
	}
	return db
}

var testNow = time.Unix(1_800_000_000, 0)

func newTestJobs(client JobsClient) *Jobs {
	j := NewJobs(client, "jobs", time.Hour)
	j.now = func() time.Time { return testNow }
	return j
}

// TestJobsMinidyn runs Jobs against minidyn: if_not_exists, ADD on numbers
// and on a number set, and the contains condition.
func TestJobsMinidyn(t *testing.T) {
	ctx := t.Context()
	db := localDynamoDB(t, "jobs", contract.AttrJobKey)
	jobs := newTestJobs(db)

	for _, n := range []int{3, 5} { // the second does not change it
		got, err := jobs.SetTotalShards(ctx, "m1", n)
		if err != nil || got != 3 {
			t.Fatalf("SetTotalShards(%d) = %d, %v; want 3", n, got, err)
		}
	}

	if _, found, err := jobs.Load(ctx, "m1", 0); err != nil || found {
		t.Fatalf("Load before any save: found %v, %v", found, err)
	}
	for _, cp := range []fanout.Checkpoint{
		{Key: `{"connectionId":{"S":"c9"}}`, Counts: fanout.Counts{Delivered: 4, Stale: 1}},
		{Counts: fanout.Counts{Delivered: 7, Stale: 1, Failed: 2}, Finished: true},
	} {
		if err := jobs.Save(ctx, "m1", 2, cp); err != nil {
			t.Fatal(err)
		}
		got, found, err := jobs.Load(ctx, "m1", 2)
		if err != nil || !found {
			t.Fatalf("Load: found %v, %v", found, err)
		}
		if diff := cmp.Diff(cp, got); diff != "" {
			t.Errorf("Load after Save (-want +got):\n%s", diff)
		}
	}

	steps := []struct {
		segment int
		counts  fanout.Counts
		want    fanout.Totals
	}{
		{0, fanout.Counts{Delivered: 5, Stale: 1}, fanout.Totals{Counts: fanout.Counts{Delivered: 5, Stale: 1}, ShardsDone: 1}},
		{0, fanout.Counts{Delivered: 5, Stale: 1}, fanout.Totals{Counts: fanout.Counts{Delivered: 5, Stale: 1}, ShardsDone: 1}}, // again: no change
		{2, fanout.Counts{Delivered: 2, Failed: 3}, fanout.Totals{Counts: fanout.Counts{Delivered: 7, Stale: 1, Failed: 3}, ShardsDone: 2}},
		{1, fanout.Counts{}, fanout.Totals{Counts: fanout.Counts{Delivered: 7, Stale: 1, Failed: 3}, ShardsDone: 3}},
		{2, fanout.Counts{Delivered: 9}, fanout.Totals{Counts: fanout.Counts{Delivered: 7, Stale: 1, Failed: 3}, ShardsDone: 3}},
	}
	for i, s := range steps {
		got, err := jobs.Add(ctx, "m1", s.segment, s.counts)
		if err != nil {
			t.Fatalf("step %d: Add: %v", i, err)
		}
		if got != s.want {
			t.Errorf("step %d: Add(segment %d) = %+v, want %+v", i, s.segment, got, s.want)
		}
	}
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("jobs"), Key: key("m1"), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	segs, _ := out.Item[contract.AttrJobSegments].(*types.AttributeValueMemberNS)
	if segs == nil || !cmp.Equal(sorted(segs.Value), []string{"-1", "0", "1", "2"}) {
		t.Errorf("%s = %#v, want the number set {-1, 0, 1, 2}", contract.AttrJobSegments, out.Item[contract.AttrJobSegments])
	}
	if n, _ := intAttr(out.Item, contract.AttrJobTotalShards); n != 3 {
		t.Errorf("%s = %d, want 3", contract.AttrJobTotalShards, n)
	}
	if n, _ := intAttr(out.Item, contract.AttrExpiresAt); int64(n) != testNow.Add(time.Hour).Unix() {
		t.Errorf("%s = %d, want %d", contract.AttrExpiresAt, n, testNow.Add(time.Hour).Unix())
	}
}

// TestScanPagerMinidyn pages through a table of one segment (minidyn
// ignores Segment and TotalSegments, so segmentation is tested with
// fakes).
func TestScanPagerMinidyn(t *testing.T) {
	ctx := t.Context()
	db := localDynamoDB(t, "connections", contract.AttrConnectionID)
	var want []string
	for i := range 7 {
		id := fmt.Sprintf("c%d=", i)
		want = append(want, id)
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("connections"), Item: map[string]types.AttributeValue{
			contract.AttrConnectionID: &types.AttributeValueMemberS{Value: id},
			contract.AttrPrincipalID:  &types.AttributeValueMemberS{Value: "p"},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	p := NewScanPager(db, "connections", 3)
	var got []string
	key := ""
	for pages := 1; ; pages++ {
		ids, next, err := p.Page(ctx, 0, 1, key)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		if len(ids) > 3 {
			t.Errorf("page %d has %d ids, over the limit 3", pages, len(ids))
		}
		got = append(got, ids...)
		if next == "" {
			break
		}
		if pages > 10 {
			t.Fatal("no end of the segment after 10 pages")
		}
		key = next
	}
	if diff := cmp.Diff(want, sorted(got)); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
