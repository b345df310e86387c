package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"wsapi/contract"
	"wsapi/localrun"
)

// Virtual connections exist for this benchmark only: rows in the
// connections table, as the connect function writes them
// (lambdas/internal/connections), whose ids the gateway answers 200 for
// and counts (gateway.AddVirtualConnections). They have no socket and
// never ran $connect; they let one machine measure a fan-out to more
// connections than it can hold sockets for.

// virtualID is the i-th virtual connection id, shaped like API Gateway's
// (16 characters ending in '=') and telling itself apart.
func virtualID(i int) string { return fmt.Sprintf("virt%011d=", i) }

// connectionsTable finds the table whose partition key is connectionId
// among the local run's tables.
func connectionsTable(ctx context.Context, db *dynamodb.Client, names map[string]string) (string, error) {
	for _, name := range names {
		out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
		if err != nil {
			return "", fmt.Errorf("describe table %s: %w", name, err)
		}
		for _, k := range out.Table.KeySchema {
			if k.KeyType == types.KeyTypeHash && k.AttributeName != nil && *k.AttributeName == contract.AttrConnectionID {
				return name, nil
			}
		}
	}
	return "", errors.New("no table with the partition key " + contract.AttrConnectionID)
}

// addVirtual writes rows for virtual connections from..to-1 and registers
// them with the gateway.
func addVirtual(ctx context.Context, srv *localrun.Server, table string, from, to int) error {
	if to <= from {
		return nil
	}
	db := localrun.DynamoDBClient(srv.DynamoDB)
	now := time.Now()
	connectedAt := strconv.FormatInt(now.UnixMilli(), 10)
	expiresAt := strconv.FormatInt(now.Add(2*time.Hour).Unix(), 10)
	ids := make([]string, 0, to-from)
	for i := from; i < to; i++ {
		ids = append(ids, virtualID(i))
	}
	// Registered first: a broadcast already under way never meets a row
	// the gateway does not know.
	srv.Gateway().AddVirtualConnections(ids...)
	const batch = 25 // BatchWriteItem's largest
	work := make(chan []string)
	g, ctx := errgroup.WithContext(ctx)
	for range 8 {
		g.Go(func() error {
			for chunk := range work {
				if err := writeRows(ctx, db, table, chunk, connectedAt, expiresAt); err != nil {
					return err
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(work)
		for len(ids) > 0 {
			n := min(batch, len(ids))
			select {
			case work <- ids[:n]:
			case <-ctx.Done():
				return ctx.Err()
			}
			ids = ids[n:]
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return fmt.Errorf("virtual connection rows: %w", err)
	}
	return nil
}

// writeRows puts one batch, retrying what DynamoDB leaves unprocessed.
func writeRows(ctx context.Context, db *dynamodb.Client, table string, ids []string, connectedAt, expiresAt string) error {
	reqs := make([]types.WriteRequest, len(ids))
	for i, id := range ids {
		reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
			contract.AttrConnectionID: &types.AttributeValueMemberS{Value: id},
			contract.AttrPrincipalID:  &types.AttributeValueMemberS{Value: "wsbench-virtual"},
			contract.AttrConnectedAt:  &types.AttributeValueMemberN{Value: connectedAt},
			contract.AttrExpiresAt:    &types.AttributeValueMemberN{Value: expiresAt},
		}}}
	}
	pending := map[string][]types.WriteRequest{table: reqs}
	for attempt := 0; len(pending[table]) > 0; attempt++ {
		if attempt == 10 {
			return fmt.Errorf("batch write: %d items still unprocessed", len(pending[table]))
		}
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 50 * time.Millisecond)
		}
		out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
		if err != nil {
			return fmt.Errorf("batch write: %w", err)
		}
		pending = out.UnprocessedItems
	}
	return nil
}
