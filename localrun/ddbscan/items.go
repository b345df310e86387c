package ddbscan

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	minidyn "github.com/truora/minidyn/server"
)

// route returns the table's shadow and the minidyn table holding the item
// or key av.
func (h *Handler) route(table *string, av map[string]*minidyn.AttributeValue, isItem bool) (*shadow, *string, error) {
	sh, err := h.table(table)
	if err != nil {
		return nil, nil, err
	}
	i, err := sh.schema.shardOf(av)
	if err != nil {
		if isItem {
			return nil, nil, errValidation(fmt.Sprintf("One or more parameter values were invalid: Missing the key %s in the item", sh.schema.hash))
		}
		return nil, nil, errValidation("The provided key element does not match the schema")
	}
	return sh, aws.String(shardName(aws.ToString(table), i)), nil
}

// refresh copies the row of key from its shard in minidyn into the
// table's shadow. The caller holds writeMu.
func (h *Handler) refresh(ctx context.Context, shard *string, sh *shadow, key map[string]*minidyn.AttributeValue) error {
	item, err := h.row(ctx, shard, sh.schema, key)
	if err != nil {
		return fmt.Errorf("refresh %s: %w", *shard, err)
	}
	h.store(sh, key, item)
	return nil
}

// written is a row a batch or a transaction writes, with what a put
// stores there.
type written struct {
	shard     *string
	sh        *shadow
	key, item map[string]*minidyn.AttributeValue
}

// refreshAll refreshes every row written. The caller holds writeMu.
func (h *Handler) refreshAll(ctx context.Context, rows []written) error {
	for _, w := range rows {
		if err := h.refresh(ctx, w.shard, w.sh, w.key); err != nil {
			return err
		}
	}
	return nil
}

// row reads the row of the item or key av from its shard, as a write
// there will find it.
func (h *Handler) row(ctx context.Context, shard *string, s *schema, av map[string]*minidyn.AttributeValue) (map[string]*minidyn.AttributeValue, error) {
	out, err := h.client.GetItem(ctx, &minidyn.GetItemInput{TableName: shard, Key: s.keyOf(av), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

// store sets the shadow's row of key to item, which a write has just
// stored in minidyn (none: the row is gone). A successful put stores its
// item as given, so puts need no read back. The caller holds writeMu.
func (h *Handler) store(sh *shadow, key, item map[string]*minidyn.AttributeValue) {
	pos, err := sh.schema.positionOf(key)
	if err != nil {
		return // minidyn refused it too
	}
	if len(item) == 0 {
		item = nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	sh.set(pos, item)
}

// beginWrite routes a one-item write to its shard (rewriting *table to the
// shard's name), takes the write lock, which the caller releases with
// unlock, and applies the contains() fix to the write's condition against
// the item's current value.
func (h *Handler) beginWrite(ctx context.Context, table **string, av map[string]*minidyn.AttributeValue, isItem bool, c conditional) (sh *shadow, shard *string, unlock func(), err error) {
	sh, shard, err = h.route(*table, av, isItem)
	if err != nil {
		return nil, nil, nil, err
	}
	*table = shard
	h.writeMu.Lock()
	h.fixContainsOfRow(ctx, c, shard, sh.schema, av)
	return sh, shard, h.writeMu.Unlock, nil
}

func (h *Handler) putItem(ctx context.Context, in *minidyn.PutItemInput) (any, error) {
	sh, shard, unlock, err := h.beginWrite(ctx, &in.TableName, in.Item, true,
		conditional{cond: &in.ConditionExpression, names: in.ExpressionAttributeNames, values: &in.ExpressionAttributeValues})
	if err != nil {
		return nil, err
	}
	defer unlock()
	// minidyn returns the item written; DynamoDB returns the old one, and
	// only when asked to (ReturnValues ALL_OLD).
	var old map[string]*minidyn.AttributeValue
	if in.ReturnValues == ddbtypes.ReturnValueAllOld {
		if old, err = h.row(ctx, shard, sh.schema, in.Item); err != nil {
			return nil, err
		}
	}
	out, err := h.client.PutItem(ctx, in)
	if err != nil {
		return nil, err
	}
	out.Attributes = old
	h.store(sh, in.Item, in.Item)
	return out, nil
}

func (h *Handler) deleteItem(ctx context.Context, in *minidyn.DeleteItemInput) (any, error) {
	sh, _, unlock, err := h.beginWrite(ctx, &in.TableName, in.Key, false,
		conditional{cond: &in.ConditionExpression, names: in.ExpressionAttributeNames, values: &in.ExpressionAttributeValues})
	if err != nil {
		return nil, err
	}
	defer unlock()
	out, err := h.client.DeleteItem(ctx, in)
	if err != nil {
		return nil, err
	}
	h.store(sh, in.Key, nil)
	return out, nil
}

func (h *Handler) updateItem(ctx context.Context, in *minidyn.UpdateItemInput) (any, error) {
	sh, shard, unlock, err := h.beginWrite(ctx, &in.TableName, in.Key, false,
		conditional{cond: &in.ConditionExpression, names: in.ExpressionAttributeNames, values: &in.ExpressionAttributeValues,
			others: []string{aws.ToString(in.UpdateExpression)}})
	if err != nil {
		return nil, err
	}
	defer unlock()
	out, err := h.client.UpdateItem(ctx, in)
	if err != nil {
		return nil, err
	}
	return out, h.refresh(ctx, shard, sh, in.Key)
}

func (h *Handler) getItem(ctx context.Context, in *minidyn.GetItemInput) (any, error) {
	_, shard, err := h.route(in.TableName, in.Key, false)
	if err != nil {
		return nil, err
	}
	in.TableName = shard
	return h.client.GetItem(ctx, in)
}

func (h *Handler) batchWriteItem(ctx context.Context, in *minidyn.BatchWriteItemInput) (any, error) {
	routed := &minidyn.BatchWriteItemInput{RequestItems: map[string][]minidyn.WriteRequest{}}
	origin := map[string]string{} // shard: table
	var rows []written
	for table, reqs := range in.RequestItems {
		for _, req := range reqs {
			av, isItem := map[string]*minidyn.AttributeValue(nil), false
			switch {
			case req.PutRequest != nil && req.DeleteRequest == nil:
				av, isItem = req.PutRequest.Item, true
			case req.DeleteRequest != nil && req.PutRequest == nil:
				av = req.DeleteRequest.Key
			default:
				// minidyn's own wording for this shape error.
				return nil, errValidation("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes")
			}
			sh, shard, err := h.route(aws.String(table), av, isItem)
			if err != nil {
				return nil, err
			}
			routed.RequestItems[*shard] = append(routed.RequestItems[*shard], req)
			origin[*shard] = table
			w := written{shard: shard, sh: sh, key: av}
			if isItem {
				w.item = av
			}
			rows = append(rows, w)
		}
	}
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	out, err := h.client.BatchWriteItem(ctx, routed)
	if err != nil {
		// minidyn stops at the failing request, the ones before it done.
		if rerr := h.refreshAll(ctx, rows); rerr != nil {
			return nil, errors.Join(err, rerr)
		}
		return nil, err
	}
	unprocessed := map[string][]minidyn.WriteRequest{}
	for shard, reqs := range out.UnprocessedItems {
		unprocessed[origin[shard]] = append(unprocessed[origin[shard]], reqs...)
	}
	out.UnprocessedItems = unprocessed
	if len(unprocessed) > 0 {
		// Only minidyn's failure emulation leaves items unprocessed, and
		// which is not worth tracking: read them all back.
		if err := h.refreshAll(ctx, rows); err != nil {
			return nil, err
		}
		return out, nil
	}
	for _, w := range rows {
		h.store(w.sh, w.key, w.item)
	}
	return out, nil
}

func (h *Handler) batchGetItem(ctx context.Context, in *minidyn.BatchGetItemInput) (any, error) {
	routed := &minidyn.BatchGetItemInput{RequestItems: map[string]minidyn.KeysAndAttributes{}, ReturnConsumedCapacity: in.ReturnConsumedCapacity}
	origin := map[string]string{}
	for table, ka := range in.RequestItems {
		for _, key := range ka.Keys {
			_, shard, err := h.route(aws.String(table), key, false)
			if err != nil {
				return nil, err
			}
			r, ok := routed.RequestItems[*shard]
			if !ok {
				r = ka
				r.Keys = nil
			}
			r.Keys = append(r.Keys, key)
			routed.RequestItems[*shard] = r
			origin[*shard] = table
		}
	}
	out, err := h.client.BatchGetItem(ctx, routed)
	if err != nil {
		return nil, err
	}
	responses := map[string][]map[string]*minidyn.AttributeValue{}
	for shard, items := range out.Responses {
		responses[origin[shard]] = append(responses[origin[shard]], items...)
	}
	for table := range in.RequestItems {
		if responses[table] == nil {
			responses[table] = []map[string]*minidyn.AttributeValue{}
		}
	}
	unprocessed := map[string]minidyn.KeysAndAttributes{}
	for shard, ka := range out.UnprocessedKeys {
		t := origin[shard]
		u, ok := unprocessed[t]
		if !ok {
			u = ka
			u.Keys = nil
		}
		u.Keys = append(u.Keys, ka.Keys...)
		unprocessed[t] = u
	}
	return &minidyn.BatchGetItemOutput{Responses: responses, UnprocessedKeys: unprocessed}, nil
}

func (h *Handler) transactWriteItems(ctx context.Context, in *minidyn.TransactWriteItemsInput) (any, error) {
	var rows []written
	type pending struct {
		shard *string
		s     *schema
		key   map[string]*minidyn.AttributeValue
		c     conditional
	}
	var conds []pending
	for i := range in.TransactItems {
		it := &in.TransactItems[i]
		var (
			table  **string
			av     map[string]*minidyn.AttributeValue
			isItem bool
			c      conditional
		)
		switch {
		case it.Put != nil:
			p := it.Put
			table, av, isItem = &p.TableName, p.Item, true
			c = conditional{cond: &p.ConditionExpression, names: p.ExpressionAttributeNames, values: &p.ExpressionAttributeValues}
		case it.Update != nil:
			u := it.Update
			table, av = &u.TableName, u.Key
			c = conditional{cond: &u.ConditionExpression, names: u.ExpressionAttributeNames, values: &u.ExpressionAttributeValues,
				others: []string{aws.ToString(u.UpdateExpression)}}
		case it.Delete != nil:
			d := it.Delete
			table, av = &d.TableName, d.Key
			c = conditional{cond: &d.ConditionExpression, names: d.ExpressionAttributeNames, values: &d.ExpressionAttributeValues}
		case it.ConditionCheck != nil:
			cc := it.ConditionCheck
			table, av = &cc.TableName, cc.Key
			c = conditional{cond: &cc.ConditionExpression, names: cc.ExpressionAttributeNames, values: &cc.ExpressionAttributeValues}
		default:
			continue // minidyn refuses it
		}
		sh, shard, err := h.route(*table, av, isItem)
		if err != nil {
			return nil, err
		}
		*table = shard
		if it.ConditionCheck == nil {
			rows = append(rows, written{shard: shard, sh: sh, key: av})
		}
		conds = append(conds, pending{shard: shard, s: sh.schema, key: av, c: c})
	}
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	for _, p := range conds {
		h.fixContainsOfRow(ctx, p.c, p.shard, p.s, p.key)
	}
	out, err := h.client.TransactWriteItems(ctx, in)
	if err != nil {
		return nil, err
	}
	return out, h.refreshAll(ctx, rows)
}

func (h *Handler) transactGetItems(ctx context.Context, in *minidyn.TransactGetItemsInput) (any, error) {
	for i := range in.TransactItems {
		g := in.TransactItems[i].Get
		if g == nil {
			continue
		}
		_, shard, err := h.route(g.TableName, g.Key, false)
		if err != nil {
			return nil, err
		}
		g.TableName = shard
	}
	return h.client.TransactGetItems(ctx, in)
}
