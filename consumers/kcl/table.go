package kcl

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardscope/shardscope/consumers"
)

// API is the part of the DynamoDB client a LeaseTable calls;
// *dynamodb.Client has it.
type API interface {
	ScanAPI
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

var (
	_                       API                  = (*dynamodb.Client)(nil)
	_                       consumers.LeaseTable = (*LeaseTable)(nil)
	_                       TableAPI             = (*dynamodb.Client)(nil)
	errChangedBetweenTries                       = errors.New("lease created and deleted meanwhile")
	conditionalCheckFailure                      = "ConditionalCheckFailedException"
)

// LeaseTable keeps one consumers.App's leases in a DynamoDB table, one
// item per shard in the layout KCL 2.x writes (see the package comment):
// set it as consumers.Config.LeaseTable. Every write is conditional like
// the KCL's: a create on the key being absent, every other write on
// leaseCounter still holding the value read (renewals also on leaseOwner),
// so a KCL worker sharing the table and a shardscope worker fence each
// other. Writes touch only the attributes a lease of package consumers
// has (and clear checkpointOwner and the pending checkpoint where the KCL
// does), leaving others, such as a KCL 3.x worker's throughputKBps, as
// they are. Lease.LastRenewed is not stored: the KCL judges expiry by the
// counter and its own clock, as consumers' workers do. The lease key is the
// shard ID: share a table with single-stream KCL applications only.
type LeaseTable struct {
	client API
	table  string
}

// NewLeaseTable returns the lease table named table (which must exist:
// see CreateLeaseTable) reached through client.
func NewLeaseTable(client API, table string) *LeaseTable {
	return &LeaseTable{client: client, table: table}
}

// Name returns the DynamoDB table's name.
func (t *LeaseTable) Name() string { return t.table }

func isConditionFailure(err error) bool { return ErrorName(err) == conditionalCheckFailure }

func keyOf(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrLeaseKey: &types.AttributeValueMemberS{Value: id}}
}

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// toConsumers converts a parsed item to the lease a worker sees.
func toConsumers(l Lease) consumers.Lease {
	return consumers.Lease{
		ShardID:                      l.Key,
		Owner:                        l.Owner,
		Counter:                      l.Counter,
		Checkpoint:                   l.Checkpoint,
		CheckpointSubSequenceNumber:  l.CheckpointSubSequenceNumber,
		ParentShardIDs:               l.ParentShardIDs,
		StartingHashKey:              l.StartingHashKey,
		EndingHashKey:                l.EndingHashKey,
		OwnerSwitchesSinceCheckpoint: l.OwnerSwitchesSinceCheckpoint,
	}
}

// Item returns l as the item KCL 2.x's DynamoDBLeaseSerializer writes for
// it (toDynamoRecord): leaseOwner, parentShardId and the hash keys only
// when set.
func Item(l consumers.Lease) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		attrLeaseKey:         &types.AttributeValueMemberS{Value: l.ShardID},
		attrLeaseCounter:     num(l.Counter),
		attrOwnerSwitches:    num(l.OwnerSwitchesSinceCheckpoint),
		attrCheckpointSubSeq: num(l.CheckpointSubSequenceNumber),
	}
	for name, v := range setAttrs(l) {
		item[name] = v
	}
	return item
}

// setAttrs returns the optional attributes l has.
func setAttrs(l consumers.Lease) map[string]types.AttributeValue {
	m := make(map[string]types.AttributeValue)
	if l.Owner != "" {
		m[attrLeaseOwner] = &types.AttributeValueMemberS{Value: l.Owner}
	}
	if l.Checkpoint != "" {
		m[attrCheckpoint] = &types.AttributeValueMemberS{Value: l.Checkpoint}
	}
	if len(l.ParentShardIDs) > 0 {
		m[attrParentShardID] = &types.AttributeValueMemberSS{Value: append([]string(nil), l.ParentShardIDs...)}
	}
	if l.StartingHashKey != "" && l.EndingHashKey != "" {
		m[attrStartingHashKey] = &types.AttributeValueMemberS{Value: l.StartingHashKey}
		m[attrEndingHashKey] = &types.AttributeValueMemberS{Value: l.EndingHashKey}
	}
	return m
}

// parseLease reads an item as a worker's lease; ok false when absent.
func parseLease(item map[string]types.AttributeValue) (consumers.Lease, bool, error) {
	if len(item) == 0 {
		return consumers.Lease{}, false, nil
	}
	l, ok, err := ParseItem(item)
	if err != nil {
		return consumers.Lease{}, false, err
	}
	if !ok {
		return consumers.Lease{}, false, fmt.Errorf("lease %v is a row of another kind: %w", item[attrLeaseKey], ErrNotLease)
	}
	return toConsumers(l), true, nil
}

// List reads the whole table with a consistent scan.
func (t *LeaseTable) List(ctx context.Context) (map[string]consumers.Lease, error) {
	items, err := scanAll(ctx, t.client, t.table, true)
	if err != nil {
		return nil, err
	}
	out := make(map[string]consumers.Lease, len(items))
	for _, item := range items {
		l, ok, err := ParseItem(item)
		if err != nil {
			return nil, fmt.Errorf("lease table %s: %w", t.table, err)
		}
		if ok {
			out[l.Key] = toConsumers(l)
		}
	}
	return out, nil
}

// Get reads one lease with a consistent read.
func (t *LeaseTable) Get(ctx context.Context, id string) (consumers.Lease, bool, error) {
	out, err := t.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(t.table),
		Key:            keyOf(id),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return consumers.Lease{}, false, fmt.Errorf("get lease %s from %s: %w", id, t.table, err)
	}
	return parseLease(out.Item)
}

// Create puts l on condition that its key is absent, as the KCL's
// createLeaseIfNotExists does.
func (t *LeaseTable) Create(ctx context.Context, l consumers.Lease) (consumers.Lease, bool, error) {
	for try := 0; try < 3; try++ {
		_, err := t.client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:           aws.String(t.table),
			Item:                Item(l),
			ConditionExpression: aws.String("attribute_not_exists(leaseKey)"),
		})
		if err == nil {
			return l, true, nil
		}
		if !isConditionFailure(err) {
			return consumers.Lease{}, false, fmt.Errorf("create lease %s in %s: %w", l.ShardID, t.table, err)
		}
		got, ok, err := t.Get(ctx, l.ShardID)
		if err != nil || ok {
			return got, false, err
		}
	}
	return consumers.Lease{}, false, fmt.Errorf("create lease %s in %s: %w", l.ShardID, t.table, errChangedBetweenTries)
}

// Update reads the lease, lets fn change it, and writes the change with
// UpdateItem on condition that leaseCounter is still the value read (a
// missing lease is put on condition that it is still missing).
func (t *LeaseTable) Update(ctx context.Context, id string, fn func(l *consumers.Lease, exists bool) error) (consumers.Lease, error) {
	old, exists, err := t.Get(ctx, id)
	if err != nil {
		return consumers.Lease{}, err
	}
	l := old
	l.ShardID = id
	if err := fn(&l, exists); err != nil {
		return consumers.Lease{}, err
	}
	l.ShardID = id
	if !exists {
		_, err := t.client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:           aws.String(t.table),
			Item:                Item(l),
			ConditionExpression: aws.String("attribute_not_exists(leaseKey)"),
		})
		if isConditionFailure(err) {
			return consumers.Lease{}, consumers.ErrLeaseChanged
		}
		if err != nil {
			return consumers.Lease{}, fmt.Errorf("put lease %s in %s: %w", id, t.table, err)
		}
		return l, nil
	}
	in := updateInput(t.table, old, l)
	if _, err := t.client.UpdateItem(ctx, in); err != nil {
		if isConditionFailure(err) {
			return consumers.Lease{}, consumers.ErrLeaseChanged
		}
		return consumers.Lease{}, fmt.Errorf("update lease %s in %s: %w", id, t.table, err)
	}
	return l, nil
}

// updateInput builds the UpdateItem that turns old into l: every lease
// attribute set (or removed when l lacks it), on condition leaseCounter =
// old's. Like the KCL, a new owner clears checkpointOwner, and a new
// checkpoint clears the pending one.
func updateInput(table string, old, l consumers.Lease) *dynamodb.UpdateItemInput {
	names := map[string]string{}
	values := map[string]types.AttributeValue{":expected": num(old.Counter)}
	var set, remove []string
	add := func(attr string, v types.AttributeValue) {
		n := "#" + attr
		names[n] = attr
		values[":"+attr] = v
		set = append(set, n+" = :"+attr)
	}
	drop := func(attr string) {
		n := "#" + attr
		names[n] = attr
		remove = append(remove, n)
	}
	add(attrLeaseCounter, num(l.Counter))
	add(attrOwnerSwitches, num(l.OwnerSwitchesSinceCheckpoint))
	add(attrCheckpointSubSeq, num(l.CheckpointSubSequenceNumber))
	opt := setAttrs(l)
	for _, attr := range []string{attrLeaseOwner, attrCheckpoint, attrParentShardID, attrStartingHashKey, attrEndingHashKey} {
		if v, ok := opt[attr]; ok {
			add(attr, v)
		} else {
			drop(attr)
		}
	}
	if l.Owner != old.Owner {
		drop(attrCheckpointOwner)
	}
	if l.Checkpoint != old.Checkpoint || l.CheckpointSubSequenceNumber != old.CheckpointSubSequenceNumber {
		drop(attrPending)
		drop(attrPendingSubSeq)
		drop(attrPendingState)
	}
	names["#counter"] = attrLeaseCounter
	expr := "SET " + join(set)
	if len(remove) > 0 {
		expr += " REMOVE " + join(remove)
	}
	return &dynamodb.UpdateItemInput{
		TableName:                 aws.String(table),
		Key:                       keyOf(l.ShardID),
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String("#counter = :expected"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}
}

func join(parts []string) string {
	s := ""
	for i, p := range parts {
		if i > 0 {
			s += ", "
		}
		s += p
	}
	return s
}

// Remove deletes a lease on condition that leaseCounter is still counter.
func (t *LeaseTable) Remove(ctx context.Context, id string, counter int64) (bool, error) {
	_, err := t.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(t.table),
		Key:                       keyOf(id),
		ConditionExpression:       aws.String("leaseCounter = :expected"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":expected": num(counter)},
	})
	if isConditionFailure(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("delete lease %s from %s: %w", id, t.table, err)
	}
	return true, nil
}

// Renew renews each lease as the KCL's renewLease does: UpdateItem
// leaseCounter = N+1 on condition leaseCounter = N and leaseOwner = owner,
// one item at a time, then scans the table. A lease whose write failed
// otherwise is in doubt; the first such error is returned.
func (t *LeaseTable) Renew(ctx context.Context, owner string, expect map[string]int64, now time.Time) (map[string]consumers.Lease, map[string]bool, map[string]consumers.Lease, error) {
	renewed := make(map[string]consumers.Lease, len(expect))
	changed := make(map[string]bool)
	var firstErr error
	for id, counter := range expect {
		if err := ctx.Err(); err != nil {
			return renewed, changed, nil, err
		}
		out, err := t.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:           aws.String(t.table),
			Key:                 keyOf(id),
			UpdateExpression:    aws.String("SET leaseCounter = :next"),
			ConditionExpression: aws.String("leaseCounter = :expected AND leaseOwner = :owner"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":next":     num(counter + 1),
				":expected": num(counter),
				":owner":    &types.AttributeValueMemberS{Value: owner},
			},
			ReturnValues: types.ReturnValueAllNew,
		})
		switch {
		case isConditionFailure(err):
			changed[id] = true
		case err != nil:
			if firstErr == nil {
				firstErr = fmt.Errorf("renew lease %s in %s: %w", id, t.table, err)
			}
		default:
			l, ok, perr := parseLease(out.Attributes)
			if perr != nil || !ok {
				// Renewed, but the item came back unreadable: keep what we know.
				l = consumers.Lease{ShardID: id, Owner: owner, Counter: counter + 1}
			}
			l.LastRenewed = now
			renewed[id] = l
		}
	}
	all, err := t.List(ctx)
	if err != nil {
		return renewed, changed, nil, err
	}
	for id, l := range renewed {
		if cur, ok := all[id]; ok && cur.Counter == l.Counter {
			cur.LastRenewed = now
			all[id] = cur
		}
	}
	return renewed, changed, all, firstErr
}
