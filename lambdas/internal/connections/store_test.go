package connections

import (
	"context"
	"errors"
	"iter"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"wsapi/contract"
)

// fakeDB is a hand-written DynamoDB client. Query serves pages of
// connection ids, linked by LastEvaluatedKey as DynamoDB does.
type fakeDB struct {
	pages    [][]string
	failPage int // 1-based page whose read fails; 0: none
	err      error
	badItem  bool // serve an item without a connectionId

	puts    []*dynamodb.PutItemInput
	deletes []*dynamodb.DeleteItemInput
	queries []*dynamodb.QueryInput
}

func (f *fakeDB) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	f.puts = append(f.puts, in)
	if f.err != nil {
		return nil, f.err
	}
	return &dynamodb.PutItemOutput{}, nil
}

func (f *fakeDB) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	f.deletes = append(f.deletes, in)
	if f.err != nil {
		return nil, f.err
	}
	return &dynamodb.DeleteItemOutput{}, nil
}

func (f *fakeDB) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	f.queries = append(f.queries, in)
	items, last, err := f.page(len(f.queries), in.ExclusiveStartKey)
	if err != nil {
		return nil, err
	}
	return &dynamodb.QueryOutput{Items: items, LastEvaluatedKey: last}, nil
}

// page serves the page after start; the key of a page is its number.
func (f *fakeDB) page(call int, start map[string]types.AttributeValue) ([]map[string]types.AttributeValue, map[string]types.AttributeValue, error) {
	n := 0
	if start != nil {
		n = int(start["page"].(*types.AttributeValueMemberN).Value[0] - '0')
	}
	if n+1 != call {
		return nil, nil, errors.New("fake: ExclusiveStartKey does not continue the previous page")
	}
	if f.failPage == n+1 {
		return nil, nil, f.err
	}
	var items []map[string]types.AttributeValue
	for _, id := range f.pages[n] {
		items = append(items, map[string]types.AttributeValue{contract.AttrConnectionID: &types.AttributeValueMemberS{Value: id}})
	}
	if f.badItem {
		items = append(items, map[string]types.AttributeValue{contract.AttrPrincipalID: &types.AttributeValueMemberS{Value: "p"}})
	}
	var last map[string]types.AttributeValue
	if n+1 < len(f.pages) {
		last = map[string]types.AttributeValue{"page": &types.AttributeValueMemberN{Value: string(rune('0' + n + 1))}}
	}
	return items, last, nil
}

func TestWriterPut(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		err     error
		wantIs  error
		wantErr bool
	}{
		{name: "recorded"},
		{name: "id taken", err: &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}, wantIs: ErrExists, wantErr: true},
		{name: "other failure", err: boom, wantIs: boom, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := &fakeDB{err: tt.err}
			err := NewWriter(db, "conns").Put(context.Background(), Connection{
				ID:          "abc=",
				PrincipalID: "alice",
				ConnectedAt: time.UnixMilli(1700000000123),
				ExpiresAt:   time.Unix(1700007200, 999),
			})
			if (err != nil) != tt.wantErr || (tt.wantIs != nil && !errors.Is(err, tt.wantIs)) {
				t.Fatalf("Put() error = %v, want error %v", err, tt.wantIs)
			}
			want := &dynamodb.PutItemInput{
				TableName: aws.String("conns"),
				Item: map[string]types.AttributeValue{
					"connectionId": &types.AttributeValueMemberS{Value: "abc="},
					"principalId":  &types.AttributeValueMemberS{Value: "alice"},
					"connectedAt":  &types.AttributeValueMemberN{Value: "1700000000123"},
					"expiresAt":    &types.AttributeValueMemberN{Value: "1700007200"},
				},
				ConditionExpression:      aws.String("attribute_not_exists(#id)"),
				ExpressionAttributeNames: map[string]string{"#id": "connectionId"},
			}
			if len(db.puts) != 1 || !reflect.DeepEqual(db.puts[0], want) {
				t.Errorf("PutItem input = %#v, want %#v", db.puts, want)
			}
		})
	}
}

func TestDeleterDelete(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name string
		err  error
	}{
		{name: "deleted (or already gone: DeleteItem succeeds either way)"},
		{name: "failure", err: boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := &fakeDB{err: tt.err}
			err := NewDeleter(db, "conns").Delete(context.Background(), "abc=")
			if !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("Delete() error = %v, want %v", err, tt.err)
			}
			want := &dynamodb.DeleteItemInput{
				TableName: aws.String("conns"),
				Key:       map[string]types.AttributeValue{"connectionId": &types.AttributeValueMemberS{Value: "abc="}},
			}
			if len(db.deletes) != 1 || !reflect.DeepEqual(db.deletes[0], want) {
				t.Errorf("DeleteItem input = %#v, want %#v", db.deletes, want)
			}
		})
	}
}

// collect drains seq, stopping after limit ids when limit > 0.
func collect(seq iter.Seq2[string, error], limit int) ([]string, error) {
	var ids []string
	for id, err := range seq {
		if err != nil {
			return ids, err
		}
		ids = append(ids, id)
		if len(ids) == limit {
			break
		}
	}
	return ids, nil
}

func TestLister(t *testing.T) {
	boom := errors.New("boom")
	pages := [][]string{{"a", "b"}, {"c"}, {}, {"d", "e"}}
	tests := []struct {
		name      string
		db        *fakeDB
		limit     int
		wantIDs   []string
		wantErr   string
		wantCalls int
	}{
		{name: "every page", db: &fakeDB{pages: pages}, wantIDs: []string{"a", "b", "c", "d", "e"}, wantCalls: 4},
		{name: "one empty page", db: &fakeDB{pages: [][]string{{}}}, wantCalls: 1},
		{name: "consumer stops early", db: &fakeDB{pages: pages}, limit: 3, wantIDs: []string{"a", "b", "c"}, wantCalls: 2},
		{name: "second page fails", db: &fakeDB{pages: pages, failPage: 2, err: boom}, wantIDs: []string{"a", "b"}, wantErr: "page 2: boom", wantCalls: 2},
		{name: "item without id", db: &fakeDB{pages: pages, badItem: true}, wantIDs: []string{"a", "b"}, wantErr: "item without a string connectionId", wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := *tt.db
			l := NewLister(&db, "conns", "byPrincipal", WithPageSize(2))
			ids, err := collect(l.OfPrincipal(context.Background(), "alice"), tt.limit)
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
			if !slices.Equal(ids, tt.wantIDs) {
				t.Errorf("ids = %q, want %q", ids, tt.wantIDs)
			}
			checkQueries(t, db.queries, tt.wantCalls)
		})
	}
}

func checkQueries(t *testing.T, queries []*dynamodb.QueryInput, want int) {
	t.Helper()
	if len(queries) != want {
		t.Fatalf("%d queries, want %d", len(queries), want)
	}
	for _, in := range queries {
		in := *in
		in.ExclusiveStartKey = nil
		wantIn := dynamodb.QueryInput{
			TableName:                aws.String("conns"),
			IndexName:                aws.String("byPrincipal"),
			KeyConditionExpression:   aws.String("#p = :p"),
			ProjectionExpression:     aws.String("#id"),
			ExpressionAttributeNames: map[string]string{"#p": "principalId", "#id": "connectionId"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":p": &types.AttributeValueMemberS{Value: "alice"},
			},
			Limit: aws.Int32(2),
		}
		if !reflect.DeepEqual(in, wantIn) {
			t.Errorf("Query input = %#v, want %#v", in, wantIn)
		}
	}
}

func TestListerDefaultPageSize(t *testing.T) {
	db := &fakeDB{pages: [][]string{{"a"}}}
	if _, err := collect(NewLister(db, "conns", "byPrincipal").OfPrincipal(context.Background(), "alice"), 0); err != nil {
		t.Fatal(err)
	}
	if db.queries[0].Limit != nil {
		t.Errorf("Limit = %d, want none (DynamoDB's 1 MB pages)", *db.queries[0].Limit)
	}
}
