// Package ddbscan is the local run's DynamoDB API: minidyn
// (github.com/truora/minidyn) behind a router that adds what the fan-out
// needs and minidyn lacks, parallel scans (Segment and TotalSegments), and
// keeps a 100k-row table fast to load and scan.
//
// Every table is stored as 1024 minidyn tables (shards), chosen by a hash of
// the partition key value, so that minidyn's per-insert sort runs on small
// tables; item operations, batches and transactions go to the item's shard
// and keep minidyn's semantics (conditions, update expressions, return
// values). Scans of a table are served from a shadow copy of its items kept
// in sync by every write (see shadow), unless they filter or scan an index,
// which minidyn then evaluates shard by shard.
//
// Parallel scan, as the DynamoDB Developer Guide ("Scanning tables in
// DynamoDB", section "Parallel scan",
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Scan.html#Scan.ParallelScan)
// and the API reference (Scan, Segment and TotalSegments,
// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Scan.html)
// document it: TotalSegments is 1 to 1,000,000, Segment 0 to TotalSegments-1,
// both or neither (ValidationException otherwise); the segments of one
// TotalSegments are disjoint and together hold every item; the
// LastEvaluatedKey of a segment must come back with the same Segment; Limit
// is the number of items evaluated, and a page ends at Limit items or 1 MB.
// Which items fall in which segment is not documented; here segment s of n
// holds the items whose partition key value hashes (FNV-1a, 12 bits) into
// its share of the hash space, stable for the table's life.
package ddbscan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	minidyn "github.com/truora/minidyn/server"
)

// Handler serves DynamoDB's JSON protocol (X-Amz-Target
// DynamoDB_20120810.<Operation>) for the operations minidyn implements.
type Handler struct {
	client *minidyn.Client

	// writeMu orders every write with the shadow refresh that follows it,
	// so two writers of one key cannot leave the shadow at the older value.
	writeMu sync.Mutex
	// mu guards tables and the shadows' contents.
	mu     sync.RWMutex
	tables map[string]*shadow
}

var _ http.Handler = (*Handler)(nil)

// New returns an empty DynamoDB.
func New() *Handler {
	return &Handler{client: minidyn.NewClient(), tables: map[string]*shadow{}}
}

// shardName is the minidyn table holding shard i of table.
func shardName(table string, i int) string { return fmt.Sprintf("%s#%03d", table, i) }

// emptyName is a minidyn table with table's schema and no items: scans the
// shadow serves are first run on it, so that minidyn validates their
// expressions exactly as it would for a scan of its own.
func emptyName(table string) string { return table + "#empty" }

// minidynTables are the minidyn tables storing table: its empty table,
// then its shards.
func minidynTables(table string) []string {
	names := make([]string, 0, 1+shards)
	names = append(names, emptyName(table))
	for i := range shards {
		names = append(names, shardName(table, i))
	}
	return names
}

// maxBody bounds a request; DynamoDB's largest (a 25-item batch of 400 KB
// items) is about 10 MB.
const maxBody = 16 << 20

// ServeHTTP dispatches on X-Amz-Target, as minidyn's own server does.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	target := r.Header.Get("X-Amz-Target")
	op := target[strings.LastIndex(target, ".")+1:]
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	ctx := r.Context()
	var (
		resp any
		err  error
	)
	switch op {
	case "CreateTable":
		resp, err = call(dec, func(in *minidyn.CreateTableInput) (any, error) { return h.createTable(ctx, in) })
	case "DeleteTable":
		resp, err = call(dec, func(in *minidyn.DeleteTableInput) (any, error) { return h.deleteTable(ctx, in) })
	case "UpdateTable":
		resp, err = call(dec, func(in *minidyn.UpdateTableInput) (any, error) { return h.updateTable(ctx, in) })
	case "DescribeTable":
		resp, err = call(dec, func(in *minidyn.DescribeTableInput) (any, error) { return h.describeTable(ctx, in) })
	case "PutItem":
		resp, err = call(dec, func(in *minidyn.PutItemInput) (any, error) { return h.putItem(ctx, in) })
	case "DeleteItem":
		resp, err = call(dec, func(in *minidyn.DeleteItemInput) (any, error) { return h.deleteItem(ctx, in) })
	case "UpdateItem":
		resp, err = call(dec, func(in *minidyn.UpdateItemInput) (any, error) { return h.updateItem(ctx, in) })
	case "GetItem":
		resp, err = call(dec, func(in *minidyn.GetItemInput) (any, error) { return h.getItem(ctx, in) })
	case "BatchWriteItem":
		resp, err = call(dec, func(in *minidyn.BatchWriteItemInput) (any, error) { return h.batchWriteItem(ctx, in) })
	case "BatchGetItem":
		resp, err = call(dec, func(in *minidyn.BatchGetItemInput) (any, error) { return h.batchGetItem(ctx, in) })
	case "TransactWriteItems":
		resp, err = call(dec, func(in *minidyn.TransactWriteItemsInput) (any, error) { return h.transactWriteItems(ctx, in) })
	case "TransactGetItems":
		resp, err = call(dec, func(in *minidyn.TransactGetItemsInput) (any, error) { return h.transactGetItems(ctx, in) })
	case "Query":
		resp, err = call(dec, func(in *minidyn.QueryInput) (any, error) { return h.query(ctx, in) })
	case "Scan":
		resp, err = call(dec, func(in *minidyn.ScanInput) (any, error) { return h.scan(ctx, in) })
	default:
		err = &smithy.GenericAPIError{Code: "UnknownOperationException", Message: "operation " + op + " is not supported by the local run"}
	}
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	if raw, ok := resp.(rawResponse); ok {
		_, _ = w.Write(raw)
		return
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(resp)
}

// rawResponse is a response body already encoded.
type rawResponse []byte

func call[In any](dec *json.Decoder, fn func(*In) (any, error)) (any, error) {
	in := new(In)
	if err := dec.Decode(in); err != nil {
		return nil, &smithy.GenericAPIError{Code: "SerializationException", Message: err.Error()}
	}
	return fn(in)
}

func errValidation(msg string) error {
	return &smithy.GenericAPIError{Code: "ValidationException", Message: msg}
}

func errNotFound() error {
	return &ddbtypes.ResourceNotFoundException{Message: aws.String("Requested resource not found")}
}

// writeError writes err as DynamoDB does: 400 (500 for an internal error)
// with {"__type", "message"} (plus the cancellation reasons or the item of
// a failed condition), which the SDK turns into its typed errors.
func writeError(w http.ResponseWriter, err error) {
	body := map[string]any{}
	code, msg := "InternalFailure", err.Error()
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code, msg = apiErr.ErrorCode(), apiErr.ErrorMessage()
	}
	var tce *ddbtypes.TransactionCanceledException
	if errors.As(err, &tce) {
		reasons := make([]map[string]any, len(tce.CancellationReasons))
		for i, r := range tce.CancellationReasons {
			reasons[i] = map[string]any{"Code": aws.ToString(r.Code)}
			if r.Message != nil {
				reasons[i]["Message"] = *r.Message
			}
			if len(r.Item) > 0 {
				reasons[i]["Item"] = toWireMap(r.Item)
			}
		}
		body["CancellationReasons"] = reasons
	}
	var ccf *ddbtypes.ConditionalCheckFailedException
	if errors.As(err, &ccf) && len(ccf.Item) > 0 {
		body["Item"] = toWireMap(ccf.Item)
	}
	status := http.StatusBadRequest
	if code == "InternalServerError" || code == "InternalFailure" {
		status = http.StatusInternalServerError
	}
	body["__type"] = "com.amazonaws.dynamodb.v20120810#" + code
	body["message"] = msg
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(body)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// toWireMap converts the SDK's attribute values (minidyn's errors carry
// them) to the wire form.
func toWireMap(in map[string]ddbtypes.AttributeValue) map[string]*minidyn.AttributeValue {
	out := make(map[string]*minidyn.AttributeValue, len(in))
	for k, v := range in {
		out[k] = toWire(v)
	}
	return out
}

func toWire(v ddbtypes.AttributeValue) *minidyn.AttributeValue {
	switch v := v.(type) {
	case *ddbtypes.AttributeValueMemberS:
		return &minidyn.AttributeValue{S: aws.String(v.Value)}
	case *ddbtypes.AttributeValueMemberN:
		return &minidyn.AttributeValue{N: aws.String(v.Value)}
	case *ddbtypes.AttributeValueMemberB:
		return &minidyn.AttributeValue{B: v.Value}
	case *ddbtypes.AttributeValueMemberBOOL:
		return &minidyn.AttributeValue{BOOL: aws.Bool(v.Value)}
	case *ddbtypes.AttributeValueMemberNULL:
		return &minidyn.AttributeValue{NULL: aws.Bool(v.Value)}
	case *ddbtypes.AttributeValueMemberSS:
		return &minidyn.AttributeValue{SS: aws.StringSlice(v.Value)}
	case *ddbtypes.AttributeValueMemberNS:
		return &minidyn.AttributeValue{NS: aws.StringSlice(v.Value)}
	case *ddbtypes.AttributeValueMemberBS:
		return &minidyn.AttributeValue{BS: v.Value}
	case *ddbtypes.AttributeValueMemberL:
		l := make([]*minidyn.AttributeValue, len(v.Value))
		for i, e := range v.Value {
			l[i] = toWire(e)
		}
		return &minidyn.AttributeValue{L: l}
	case *ddbtypes.AttributeValueMemberM:
		return &minidyn.AttributeValue{M: toWireMap(v.Value)}
	}
	return &minidyn.AttributeValue{NULL: aws.Bool(true)}
}

// table returns the shadow of the named table.
func (h *Handler) table(name *string) (*shadow, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	sh, ok := h.tables[aws.ToString(name)]
	if !ok {
		return nil, errNotFound()
	}
	return sh, nil
}

func (h *Handler) createTable(ctx context.Context, in *minidyn.CreateTableInput) (any, error) {
	name := aws.ToString(in.TableName)
	s, err := newSchema(in)
	if err != nil {
		return nil, err
	}
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.tables[name]; ok {
		return nil, &ddbtypes.ResourceInUseException{Message: aws.String("Table already exists: " + name)}
	}
	var out *minidyn.CreateTableOutput
	tables := minidynTables(name)
	for i, t := range tables {
		shard := *in
		shard.TableName = aws.String(t)
		o, err := h.client.CreateTable(ctx, &shard)
		if err != nil {
			for _, created := range tables[:i] {
				_, _ = h.client.DeleteTable(ctx, &minidyn.DeleteTableInput{TableName: aws.String(created)})
			}
			return nil, err
		}
		out = o
	}
	h.tables[name] = newShadow(s)
	return &minidyn.CreateTableOutput{TableDescription: h.description(name, out.TableDescription, 0)}, nil
}

// description renames a shard's description after its table and sets the
// table's item count, the live one (see FIDELITY.md).
func (h *Handler) description(name string, desc any, items int) any {
	d, ok := desc.(*ddbtypes.TableDescription)
	if !ok || d == nil {
		return desc
	}
	c := *d
	c.TableName = aws.String(name)
	c.ItemCount = aws.Int64(int64(items))
	c.TableStatus = ddbtypes.TableStatusActive
	return &c
}

func (h *Handler) deleteTable(ctx context.Context, in *minidyn.DeleteTableInput) (any, error) {
	name := aws.ToString(in.TableName)
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	sh, ok := h.tables[name]
	if !ok {
		return nil, errNotFound()
	}
	var out *minidyn.DeleteTableOutput
	for _, t := range minidynTables(name) {
		o, err := h.client.DeleteTable(ctx, &minidyn.DeleteTableInput{TableName: aws.String(t)})
		if err != nil {
			return nil, err
		}
		out = o
	}
	n := sh.len()
	delete(h.tables, name)
	return &minidyn.DeleteTableOutput{TableDescription: h.description(name, out.TableDescription, n)}, nil
}

func (h *Handler) updateTable(ctx context.Context, in *minidyn.UpdateTableInput) (any, error) {
	name := aws.ToString(in.TableName)
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	sh, err := h.table(in.TableName)
	if err != nil {
		return nil, err
	}
	var out *minidyn.UpdateTableOutput
	for _, t := range minidynTables(name) {
		shard := *in
		shard.TableName = aws.String(t)
		if out, err = h.client.UpdateTable(ctx, &shard); err != nil {
			return nil, err
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, u := range in.GlobalSecondaryIndexUpdates {
		switch {
		case u.Create != nil && u.Create.IndexName != nil:
			hk, rk := keyNames(u.Create.KeySchema)
			sh.schema.indexes[*u.Create.IndexName] = indexSchema{hash: hk, rangeKey: rk, global: true}
		case u.Delete != nil && u.Delete.IndexName != nil:
			delete(sh.schema.indexes, *u.Delete.IndexName)
		}
	}
	return &minidyn.UpdateTableOutput{TableDescription: h.description(name, out.TableDescription, sh.len())}, nil
}

// describeTable describes shard 0 under the table's name, with the live
// item count: minidyn's is live too, and the fan-out sizes its segments by
// it. DynamoDB updates ItemCount about every six hours (TableDescription,
// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TableDescription.html).
func (h *Handler) describeTable(ctx context.Context, in *minidyn.DescribeTableInput) (any, error) {
	name := aws.ToString(in.TableName)
	sh, err := h.table(in.TableName)
	if err != nil {
		return nil, err
	}
	out, err := h.client.DescribeTable(ctx, &minidyn.DescribeTableInput{TableName: aws.String(shardName(name, 0))})
	if err != nil {
		return nil, err
	}
	h.mu.RLock()
	n := sh.len()
	h.mu.RUnlock()
	desc := h.description(name, out.Table, n)
	if d, ok := desc.(*ddbtypes.TableDescription); ok {
		// The indexes' counts are summed over the shards.
		for gi := range d.GlobalSecondaryIndexes {
			d.GlobalSecondaryIndexes[gi].ItemCount = aws.Int64(h.indexCount(ctx, name, aws.ToString(d.GlobalSecondaryIndexes[gi].IndexName)))
		}
	}
	return &minidyn.DescribeTableOutput{Table: desc}, nil
}

func (h *Handler) indexCount(ctx context.Context, table, index string) int64 {
	var n int64
	for i := range shards {
		out, err := h.client.DescribeTable(ctx, &minidyn.DescribeTableInput{TableName: aws.String(shardName(table, i))})
		if err != nil {
			continue
		}
		if d, ok := out.Table.(*ddbtypes.TableDescription); ok {
			for _, g := range d.GlobalSecondaryIndexes {
				if aws.ToString(g.IndexName) == index {
					n += aws.ToInt64(g.ItemCount)
				}
			}
		}
	}
	return n
}
