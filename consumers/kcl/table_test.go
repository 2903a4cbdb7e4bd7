package kcl

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/shardscope/shardscope/consumers"
)

func rawItem(t *testing.T, client *dynamodb.Client, table, key string) item {
	t.Helper()
	out, err := client.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: keyOf(key), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

func TestLeaseTableWritesKCL2Items(t *testing.T) {
	ctx := context.Background()
	client := dynamo(t)
	table := newTable(t, client, "store")
	lt := NewLeaseTable(client, table)

	child := consumers.Lease{ShardID: "shardId-000000000002", Checkpoint: "TRIM_HORIZON",
		ParentShardIDs: []string{"shardId-000000000000"}, StartingHashKey: "0", EndingHashKey: midH}
	got, created, err := lt.Create(ctx, child)
	if err != nil || !created || !reflect.DeepEqual(got, child) {
		t.Fatalf("Create: got %+v, %v, %v", got, created, err)
	}
	// The item, attribute by attribute, as DynamoDBLeaseSerializer writes
	// a new lease (no leaseOwner until taken).
	want := item{
		"leaseKey": s("shardId-000000000002"), "leaseCounter": n("0"), "ownerSwitchesSinceCheckpoint": n("0"),
		"checkpoint": s("TRIM_HORIZON"), "checkpointSubSequenceNumber": n("0"),
		"parentShardId": ss("shardId-000000000000"), "startingHashKey": s("0"), "endingHashKey": s(midH),
	}
	if raw := rawItem(t, client, table, child.ShardID); !reflect.DeepEqual(raw, want) {
		t.Errorf("item after create:\n got %#v\nwant %#v", raw, want)
	}
	// A second create finds it.
	if got, created, err := lt.Create(ctx, consumers.Lease{ShardID: child.ShardID, Checkpoint: "LATEST"}); err != nil || created || got.Checkpoint != "TRIM_HORIZON" {
		t.Errorf("second Create: got %+v, %v, %v; want the first lease, not created", got, created, err)
	}

	// Take: owner set, counter moved; a KCL 3.x attribute is left alone.
	if _, err := client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table), Key: keyOf(child.ShardID),
		UpdateExpression: aws.String("SET throughputKBps = :t"), ExpressionAttributeValues: item{":t": n("2.5")}}); err != nil {
		t.Fatal(err)
	}
	taken, err := lt.Update(ctx, child.ShardID, func(l *consumers.Lease, exists bool) error {
		if !exists {
			return errors.New("missing")
		}
		l.Owner, l.Counter = "w1", l.Counter+1
		return nil
	})
	if err != nil || taken.Owner != "w1" || taken.Counter != 1 {
		t.Fatalf("take: got %+v, %v", taken, err)
	}
	raw := rawItem(t, client, table, child.ShardID)
	if !reflect.DeepEqual(raw["leaseOwner"], s("w1")) || !reflect.DeepEqual(raw["leaseCounter"], n("1")) || !reflect.DeepEqual(raw["throughputKBps"], n("2.5")) {
		t.Errorf("item after take: %#v", raw)
	}

	// Renewal: conditional on counter and owner.
	now := time.Unix(1700000000, 0)
	renewed, changed, all, err := lt.Renew(ctx, "w1", map[string]int64{child.ShardID: 1}, now)
	if err != nil || renewed[child.ShardID].Counter != 2 || len(changed) != 0 || all[child.ShardID].Counter != 2 || !all[child.ShardID].LastRenewed.Equal(now) {
		t.Fatalf("Renew: got %+v, %v, %+v, %v", renewed, changed, all, err)
	}
	// A stale counter or another owner: changed, nothing written.
	renewed, changed, _, err = lt.Renew(ctx, "w1", map[string]int64{child.ShardID: 1}, now)
	if err != nil || len(renewed) != 0 || !changed[child.ShardID] {
		t.Errorf("stale Renew: got %+v, %v, %v; want changed", renewed, changed, err)
	}
	if _, changed, _, _ := lt.Renew(ctx, "w2", map[string]int64{child.ShardID: 2}, now); !changed[child.ShardID] {
		t.Errorf("Renew by another owner: want changed")
	}

	// An Update racing another writer loses with ErrLeaseChanged.
	_, err = lt.Update(ctx, child.ShardID, func(l *consumers.Lease, _ bool) error {
		// Another worker moves the counter between the read and the write.
		if _, _, _, err := lt.Renew(ctx, "w1", map[string]int64{child.ShardID: l.Counter}, now); err != nil {
			t.Error(err)
		}
		l.Owner, l.Counter = "w2", l.Counter+1
		return nil
	})
	if !errors.Is(err, consumers.ErrLeaseChanged) {
		t.Errorf("racing Update: got %v, want ErrLeaseChanged", err)
	}

	// Checkpoint SHARD_END, release: leaseOwner removed as the KCL evicts.
	if _, err := lt.Update(ctx, child.ShardID, func(l *consumers.Lease, _ bool) error {
		l.Checkpoint, l.Owner, l.Counter = "SHARD_END", "", l.Counter+1
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	raw = rawItem(t, client, table, child.ShardID)
	if _, has := raw["leaseOwner"]; has || !reflect.DeepEqual(raw["checkpoint"], s("SHARD_END")) {
		t.Errorf("item after release: %#v", raw)
	}
	l, ok, err := lt.Get(ctx, child.ShardID)
	if err != nil || !ok || l.Owner != "" || l.Counter != 4 || !l.Ended() {
		t.Errorf("Get: got %+v, %v, %v", l, ok, err)
	}

	// Remove only with the current counter.
	if removed, err := lt.Remove(ctx, child.ShardID, 3); err != nil || removed {
		t.Errorf("Remove with a stale counter: got %v, %v; want false", removed, err)
	}
	if removed, err := lt.Remove(ctx, child.ShardID, 4); err != nil || !removed {
		t.Errorf("Remove: got %v, %v; want true", removed, err)
	}
	if _, ok, err := lt.Get(ctx, child.ShardID); ok || err != nil {
		t.Errorf("Get after Remove: got %v, %v", ok, err)
	}
}

func TestLeaseTableSkipsOtherRowsAndRejectsGarbage(t *testing.T) {
	ctx := context.Background()
	client := dynamo(t)
	table := newTable(t, client, "rows")
	putItems(t, client, table,
		item{"leaseKey": s("Leader"), "entityType": s("LEADER")},
		item{"leaseKey": s("shardId-000000000001"), "leaseCounter": n("5"), "checkpoint": s("LATEST"), "entityType": s("LEASE")})
	lt := NewLeaseTable(client, table)
	all, err := lt.List(ctx)
	if err != nil || len(all) != 1 || all["shardId-000000000001"].Counter != 5 {
		t.Errorf("List: got %+v, %v; want the one lease", all, err)
	}
	if _, _, err := lt.Get(ctx, "Leader"); !errors.Is(err, ErrNotLease) {
		t.Errorf("Get of the leader row: got %v, want ErrNotLease", err)
	}
	putItems(t, client, table, item{"leaseKey": s("bad"), "leaseCounter": s("x")})
	if _, err := lt.List(ctx); !errors.Is(err, ErrNotLease) {
		t.Errorf("List with a bad row: got %v, want ErrNotLease", err)
	}
}
