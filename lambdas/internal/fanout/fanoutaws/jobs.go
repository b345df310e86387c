package fanoutaws

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"wsapi/contract"
	"wsapi/lambdas/internal/fanout"
)

// JobsClient is the DynamoDB calls Jobs makes.
type JobsClient interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

var (
	_ JobsClient         = (*dynamodb.Client)(nil)
	_ fanout.Checkpoints = (*Jobs)(nil)
	_ fanout.Counters    = (*Jobs)(nil)
	_ fanout.JobStore    = (*Jobs)(nil)
)

// Jobs is the jobs table: a job's totals item (key "<job id>": its segment
// count, counts, shardsDone and the number set of segments added) and its
// shards' checkpoint items (key "<job id>#<segment>"). Every item gets an
// expiresAt, DynamoDB's time to live in epoch seconds
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/TTL.html),
// so nothing needs cleaning up.
type Jobs struct {
	client JobsClient
	table  string
	ttl    time.Duration
	now    func() time.Time
}

// NewJobs returns Jobs on the named table whose items live for ttl.
func NewJobs(client JobsClient, table string, ttl time.Duration) *Jobs {
	return &Jobs{client: client, table: table, ttl: ttl, now: time.Now}
}

func (j *Jobs) expiresAt() types.AttributeValue {
	return number(j.now().Add(j.ttl).Unix())
}

func number[T int | int64](n T) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(int64(n), 10)}
}

func key(k string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{contract.AttrJobKey: &types.AttributeValueMemberS{Value: k}}
}

func checkpointKey(jobID string, segment int) map[string]types.AttributeValue {
	return key(jobID + "#" + strconv.Itoa(segment))
}

// Load reads the checkpoint with a strongly consistent read, so that a
// shard resumed right after a save sees it ("ConsistentRead": "If set to
// true, then the operation uses strongly consistent reads",
// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_GetItem.html).
func (j *Jobs) Load(ctx context.Context, jobID string, segment int) (fanout.Checkpoint, bool, error) {
	out, err := j.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(j.table),
		Key:            checkpointKey(jobID, segment),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return fanout.Checkpoint{}, false, fmt.Errorf("get checkpoint %s#%d: %w", jobID, segment, err)
	}
	if len(out.Item) == 0 {
		return fanout.Checkpoint{}, false, nil
	}
	var cp fanout.Checkpoint
	var errs [4]error
	cp.Counts, errs[0] = counts(out.Item)
	if v, ok := out.Item[contract.AttrJobResumeKey]; ok {
		s, isS := v.(*types.AttributeValueMemberS)
		if !isS {
			errs[1] = fmt.Errorf("%s is not a string", contract.AttrJobResumeKey)
		} else {
			cp.Key = s.Value
		}
	}
	f, isBool := out.Item[contract.AttrJobFinished].(*types.AttributeValueMemberBOOL)
	if !isBool {
		errs[2] = fmt.Errorf("%s is not a boolean", contract.AttrJobFinished)
	} else {
		cp.Finished = f.Value
	}
	if !cp.Finished && cp.Key == "" {
		errs[3] = errors.New("unfinished without a resume key")
	}
	if err := errors.Join(errs[:]...); err != nil {
		return fanout.Checkpoint{}, false, fmt.Errorf("checkpoint %s#%d: %w", jobID, segment, err)
	}
	return cp, true, nil
}

// Save writes the checkpoint over the previous one.
func (j *Jobs) Save(ctx context.Context, jobID string, segment int, cp fanout.Checkpoint) error {
	item := checkpointKey(jobID, segment)
	item[contract.AttrJobDelivered] = number(cp.Counts.Delivered)
	item[contract.AttrJobStale] = number(cp.Counts.Stale)
	item[contract.AttrJobFailed] = number(cp.Counts.Failed)
	item[contract.AttrJobFinished] = &types.AttributeValueMemberBOOL{Value: cp.Finished}
	item[contract.AttrExpiresAt] = j.expiresAt()
	if cp.Key != "" {
		item[contract.AttrJobResumeKey] = &types.AttributeValueMemberS{Value: cp.Key}
	}
	if _, err := j.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(j.table), Item: item}); err != nil {
		return fmt.Errorf("put checkpoint %s#%d: %w", jobID, segment, err)
	}
	return nil
}

// Add adds a finished shard's counts to the job's totals with one
// conditional UpdateItem: ADD to the counts and to shardsDone, ADD the
// segment to the number set segmentsDone, on condition that the set does
// not contain it yet. "ADD … If the existing data type is a set, then
// Value is also a set, and the Value is added to the existing set"; a
// missing number attribute counts as 0 and a missing set is created; and
// "contains(path, operand)" is true when the set at path has the operand
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.UpdateExpressions.html#Expressions.UpdateExpressions.ADD,
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.OperatorsAndFunctions.html).
// A failed condition (ConditionalCheckFailedException: the segment was
// added before) changes nothing, and Add returns the totals as they are.
// The job's split (SetTotalShards) has created the set, so the condition
// never depends on what contains does with a missing attribute, which the
// documentation does not say.
func (j *Jobs) Add(ctx context.Context, jobID string, segment int, c fanout.Counts) (fanout.Totals, error) {
	out, err := j.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(j.table),
		Key:                 key(jobID),
		UpdateExpression:    aws.String("ADD #d :d, #s :s, #f :f, #done :one, #segs :segs SET #exp = if_not_exists(#exp, :exp)"),
		ConditionExpression: aws.String("attribute_not_exists(#segs) OR NOT contains(#segs, :seg)"),
		ExpressionAttributeNames: map[string]string{
			"#d": contract.AttrJobDelivered, "#s": contract.AttrJobStale, "#f": contract.AttrJobFailed,
			"#done": contract.AttrJobShardsDone, "#segs": contract.AttrJobSegments, "#exp": contract.AttrExpiresAt,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":d": number(c.Delivered), ":s": number(c.Stale), ":f": number(c.Failed), ":one": number(1),
			":segs": &types.AttributeValueMemberNS{Value: []string{strconv.Itoa(segment)}},
			":seg":  number(segment),
			":exp":  j.expiresAt(),
		},
		ReturnValues: types.ReturnValueAllNew,
		// The item as it is comes with the failure, saving a read.
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var dup *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &dup):
		item := dup.Item
		if len(item) == 0 {
			if item, err = j.totalsItem(ctx, jobID); err != nil {
				return fanout.Totals{}, err
			}
		}
		return totals(jobID, item)
	case err != nil:
		return fanout.Totals{}, fmt.Errorf("add counts of %s#%d: %w", jobID, segment, err)
	}
	return totals(jobID, out.Attributes)
}

func (j *Jobs) totalsItem(ctx context.Context, jobID string) (map[string]types.AttributeValue, error) {
	out, err := j.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(j.table), Key: key(jobID), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get totals of %s: %w", jobID, err)
	}
	return out.Item, nil
}

// noSegment is the segment the set of added segments starts with: a set
// cannot be empty ("empty sets are not allowed",
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html),
// and with the set there, Add's contains condition never looks at a
// missing attribute (which the local emulator, minidyn, refuses).
const noSegment = "-1"

// SetTotalShards stores n as the job's segment count unless one is stored
// (SET totalShards = if_not_exists(totalShards, :n)) and returns the
// stored one (ReturnValues ALL_NEW). It also starts the set of added
// segments, as {-1}.
func (j *Jobs) SetTotalShards(ctx context.Context, jobID string, n int) (int, error) {
	out, err := j.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(j.table),
		Key:              key(jobID),
		UpdateExpression: aws.String("SET #n = if_not_exists(#n, :n), #exp = if_not_exists(#exp, :exp), #segs = if_not_exists(#segs, :none)"),
		ExpressionAttributeNames: map[string]string{
			"#n": contract.AttrJobTotalShards, "#exp": contract.AttrExpiresAt, "#segs": contract.AttrJobSegments,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":n": number(n), ":exp": j.expiresAt(), ":none": &types.AttributeValueMemberNS{Value: []string{noSegment}},
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if err != nil {
		return 0, fmt.Errorf("set segment count of %s: %w", jobID, err)
	}
	stored, err := intAttr(out.Attributes, contract.AttrJobTotalShards)
	if err != nil {
		return 0, fmt.Errorf("segment count of %s: %w", jobID, err)
	}
	return stored, nil
}

func totals(jobID string, item map[string]types.AttributeValue) (fanout.Totals, error) {
	var t fanout.Totals
	var err1, err2 error
	t.Counts, err1 = counts(item)
	t.ShardsDone, err2 = intAttr(item, contract.AttrJobShardsDone)
	if err := errors.Join(err1, err2); err != nil {
		return fanout.Totals{}, fmt.Errorf("totals of %s: %w", jobID, err)
	}
	return t, nil
}

func counts(item map[string]types.AttributeValue) (fanout.Counts, error) {
	var c fanout.Counts
	var errs [3]error
	c.Delivered, errs[0] = intAttr(item, contract.AttrJobDelivered)
	c.Stale, errs[1] = intAttr(item, contract.AttrJobStale)
	c.Failed, errs[2] = intAttr(item, contract.AttrJobFailed)
	return c, errors.Join(errs[:]...)
}

func intAttr(item map[string]types.AttributeValue, name string) (int, error) {
	v, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("%s is not a number", name)
	}
	n, err := strconv.Atoi(v.Value)
	if err != nil {
		return 0, fmt.Errorf("%s=%q is not an integer", name, v.Value)
	}
	return n, nil
}
