package connections

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"wsapi/contract"
)

// ErrExists means a row with the same connection id is already there.
// API Gateway never reuses an id, so this points at a replayed $connect.
var ErrExists = errors.New("connection already recorded")

// ItemPutter is the DynamoDB call Writer makes.
type ItemPutter interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// ItemDeleter is the DynamoDB call Deleter makes.
type ItemDeleter interface {
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Querier is the DynamoDB call Lister makes; it is the interface the SDK's
// paginator takes.
type Querier = dynamodb.QueryAPIClient

var (
	_ ItemPutter  = (*dynamodb.Client)(nil)
	_ ItemDeleter = (*dynamodb.Client)(nil)
	_ Querier     = (*dynamodb.Client)(nil)
)

// Connection is one row of the table.
type Connection struct {
	ID          string
	PrincipalID string
	ConnectedAt time.Time // stored in epoch milliseconds
	ExpiresAt   time.Time // stored in epoch seconds, as DynamoDB TTL wants
}

// Writer records new connections.
type Writer struct {
	client ItemPutter
	table  string
}

// NewWriter returns a Writer on the named table.
func NewWriter(client ItemPutter, table string) *Writer {
	return &Writer{client: client, table: table}
}

// Put records c, refusing to overwrite a row with the same id (ErrExists):
// an overwrite would silently hand a connection to another principal.
func (w *Writer) Put(ctx context.Context, c Connection) error {
	_, err := w.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(w.table),
		Item: map[string]types.AttributeValue{
			contract.AttrConnectionID: &types.AttributeValueMemberS{Value: c.ID},
			contract.AttrPrincipalID:  &types.AttributeValueMemberS{Value: c.PrincipalID},
			contract.AttrConnectedAt:  &types.AttributeValueMemberN{Value: strconv.FormatInt(c.ConnectedAt.UnixMilli(), 10)},
			contract.AttrExpiresAt:    &types.AttributeValueMemberN{Value: strconv.FormatInt(c.ExpiresAt.Unix(), 10)},
		},
		ConditionExpression:      aws.String("attribute_not_exists(#id)"),
		ExpressionAttributeNames: map[string]string{"#id": contract.AttrConnectionID},
	})
	if err != nil {
		var exists *types.ConditionalCheckFailedException
		if errors.As(err, &exists) {
			return fmt.Errorf("put connection %s: %w", c.ID, ErrExists)
		}
		return fmt.Errorf("put connection %s: %w", c.ID, err)
	}
	return nil
}

// Deleter removes connections.
type Deleter struct {
	client ItemDeleter
	table  string
}

// NewDeleter returns a Deleter on the named table.
func NewDeleter(client ItemDeleter, table string) *Deleter {
	return &Deleter{client: client, table: table}
}

// Delete removes the row of connection id. It is idempotent: deleting a row
// that is already gone succeeds, as $disconnect and a gone-connection cleanup
// may race.
func (d *Deleter) Delete(ctx context.Context, id string) error {
	_, err := d.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(d.table),
		Key: map[string]types.AttributeValue{
			contract.AttrConnectionID: &types.AttributeValueMemberS{Value: id},
		},
	})
	if err != nil {
		return fmt.Errorf("delete connection %s: %w", id, err)
	}
	return nil
}

// Lister iterates connection ids, page by page, so a caller can start work on
// the first page before the next one is read and never holds the whole table.
type Lister struct {
	querier  Querier
	table    string
	index    string
	pageSize int32
}

// ListerOption configures a Lister.
type ListerOption func(*Lister)

// WithPageSize caps the items DynamoDB returns per page (its Limit). The
// default is no cap: DynamoDB's own 1 MB pages.
func WithPageSize(n int32) ListerOption {
	return func(l *Lister) { l.pageSize = n }
}

// NewLister returns a Lister on the named table and principal index.
func NewLister(querier Querier, table, principalIndex string, opts ...ListerOption) *Lister {
	l := &Lister{querier: querier, table: table, index: principalIndex}
	for _, opt := range opts {
		opt(l)
	}
	return l
}

// OfPrincipal yields the id of every connection of principalID, read from the
// principal index (eventually consistent, as every GSI read). On a failure it
// yields one error and stops.
func (l *Lister) OfPrincipal(ctx context.Context, principalID string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		p := dynamodb.NewQueryPaginator(l.querier, &dynamodb.QueryInput{
			TableName:                aws.String(l.table),
			IndexName:                aws.String(l.index),
			KeyConditionExpression:   aws.String("#p = :p"),
			ProjectionExpression:     aws.String("#id"),
			ExpressionAttributeNames: map[string]string{"#p": contract.AttrPrincipalID, "#id": contract.AttrConnectionID},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":p": &types.AttributeValueMemberS{Value: principalID},
			},
			Limit: l.limit(),
		})
		what := "query " + l.table + " index " + l.index
		for page := 1; p.HasMorePages(); page++ {
			out, err := p.NextPage(ctx)
			if err != nil {
				yield("", fmt.Errorf("%s, page %d: %w", what, page, err))
				return
			}
			if !yieldIDs(out.Items, yield) {
				return
			}
		}
	}
}

func (l *Lister) limit() *int32 {
	if l.pageSize <= 0 {
		return nil
	}
	return aws.Int32(l.pageSize)
}

// yieldIDs yields the connection id of each item; it reports whether the
// consumer wants more.
func yieldIDs(items []map[string]types.AttributeValue, yield func(string, error) bool) bool {
	for _, item := range items {
		id, ok := item[contract.AttrConnectionID].(*types.AttributeValueMemberS)
		if !ok || id.Value == "" {
			// The key attribute is always a string; anything else is a
			// table that is not ours, and guessing would post to nobody.
			yield("", fmt.Errorf("item without a string %s", contract.AttrConnectionID))
			return false
		}
		if !yield(id.Value, nil) {
			return false
		}
	}
	return true
}
