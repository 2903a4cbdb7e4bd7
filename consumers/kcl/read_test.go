package kcl

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardscope/shardscope/consumers"
)

type item = map[string]types.AttributeValue

func s(v string) types.AttributeValue     { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue     { return &types.AttributeValueMemberN{Value: v} }
func ss(v ...string) types.AttributeValue { return &types.AttributeValueMemberSS{Value: v} }

const (
	seqA = "49590338271490256608559692538361571095921575989136588898"
	seqB = "49590338271490256608559692540361571095921575989136588899"
	maxH = "340282366920938463463374607431768211455"
	midH = "170141183460469231731687303715884105728"
)

// The items of the samples, as each KCL version writes them (see the
// package comment for the source), and what ReadLeases makes of them.
var samples = []struct {
	name string
	item item
	want *Lease // nil: a row ReadLeases skips
}{
	{
		// KCL 2.x (DynamoDBLeaseSerializer.toDynamoRecord after a split:
		// a child lease with its parent, hash range and pending checkpoint).
		name: "2.x child",
		item: item{
			"leaseKey": s("shardId-000000000002"), "leaseOwner": s("worker-a"), "leaseCounter": n("17"),
			"ownerSwitchesSinceCheckpoint": n("1"), "checkpoint": s(seqB), "checkpointSubSequenceNumber": n("3"),
			"parentShardId": ss("shardId-000000000000"), "pendingCheckpoint": s(seqB), "pendingCheckpointSubSequenceNumber": n("4"),
			"startingHashKey": s("0"), "endingHashKey": s(midH),
		},
		want: &Lease{Key: "shardId-000000000002", ShardID: "shardId-000000000002", Owner: "worker-a", Counter: 17,
			OwnerSwitchesSinceCheckpoint: 1, Checkpoint: seqB, CheckpointSubSequenceNumber: 3,
			ParentShardIDs: []string{"shardId-000000000000"}, PendingCheckpoint: seqB, PendingCheckpointSubSequenceNumber: 4,
			StartingHashKey: "0", EndingHashKey: midH},
	},
	{
		// KCL 2.x: an ended parent with its children, no owner, and the
		// create path's numeric pendingCheckpointState quirk.
		name: "2.x ended parent",
		item: item{
			"leaseKey": s("shardId-000000000000"), "leaseCounter": n("40"), "ownerSwitchesSinceCheckpoint": n("0"),
			"checkpoint": s("SHARD_END"), "checkpointSubSequenceNumber": n("0"),
			"childShardIds": ss("shardId-000000000003", "shardId-000000000002"), "pendingCheckpointState": n("0"),
			"startingHashKey": s("0"), "endingHashKey": s(maxH),
		},
		want: &Lease{Key: "shardId-000000000000", ShardID: "shardId-000000000000", Counter: 40, Checkpoint: "SHARD_END",
			ChildShardIDs: []string{"shardId-000000000002", "shardId-000000000003"}, StartingHashKey: "0", EndingHashKey: maxH},
	},
	{
		// KCL 1.x (KinesisClientLeaseSerializer): no hash range.
		name: "1.x",
		item: item{
			"leaseKey": s("shardId-000000000007"), "leaseOwner": s("host-1:5b1c"), "leaseCounter": n("9"),
			"ownerSwitchesSinceCheckpoint": n("2"), "checkpoint": s("TRIM_HORIZON"), "checkpointSubSequenceNumber": n("0"),
			"parentShardId": ss("shardId-000000000001", "shardId-000000000004"),
		},
		want: &Lease{Key: "shardId-000000000007", ShardID: "shardId-000000000007", Owner: "host-1:5b1c", Counter: 9,
			OwnerSwitchesSinceCheckpoint: 2, Checkpoint: "TRIM_HORIZON",
			ParentShardIDs: []string{"shardId-000000000001", "shardId-000000000004"}},
	},
	{
		// KCL 3.x: a lease mid hand-off, with its measured throughput.
		name: "3.x hand-off",
		item: item{
			"leaseKey": s("shardId-000000000009"), "leaseOwner": s("worker-b"), "checkpointOwner": s("worker-a"),
			"leaseCounter": n("120"), "ownerSwitchesSinceCheckpoint": n("0"), "checkpoint": s(seqA),
			"checkpointSubSequenceNumber": n("0"), "throughputKBps": n("12.5"), "entityType": s("LEASE"),
			"startingHashKey": s(midH), "endingHashKey": s(maxH),
		},
		want: &Lease{Key: "shardId-000000000009", ShardID: "shardId-000000000009", Owner: "worker-b", CheckpointOwner: "worker-a",
			Counter: 120, Checkpoint: seqA, ThroughputKBps: 12.5, StartingHashKey: midH, EndingHashKey: maxH},
	},
	{
		// KCL 2.3+ multi-stream lease.
		name: "multi-stream",
		item: item{
			"leaseKey": s("123456789012:orders:1700000000:shardId-000000000001"), "leaseCounter": n("3"),
			"leaseOwner": s("w"), "checkpoint": s("LATEST"), "checkpointSubSequenceNumber": n("0"),
			"ownerSwitchesSinceCheckpoint": n("0"), "streamName": s("123456789012:orders:1700000000"), "shardId": s("shardId-000000000001"),
		},
		want: &Lease{Key: "123456789012:orders:1700000000:shardId-000000000001", ShardID: "shardId-000000000001",
			StreamName: "123456789012:orders:1700000000", Owner: "w", Counter: 3, Checkpoint: "LATEST"},
	},
	// KCL 3.5 single-table rows that are not leases.
	{name: "3.5 worker metrics", item: item{"leaseKey": s("worker-a"), "entityType": s("WORKER_METRIC_STATS"), "lut": n("1700000000")}},
	{name: "3.5 leader", item: item{"leaseKey": s("Leader"), "entityType": s("LEADER"), "ownerName": s("worker-a"), "recordVersionNumber": s("x")}},
}

func putItems(t *testing.T, client *dynamodb.Client, table string, items ...item) {
	t.Helper()
	for _, it := range items {
		if _, err := client.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadLeasesOfKCL1And2And3(t *testing.T) {
	client := dynamo(t)
	table := newTable(t, client, "layout")
	var want []Lease
	for _, sm := range samples {
		putItems(t, client, table, sm.item)
		if sm.want != nil {
			want = append(want, *sm.want)
		}
	}
	// Sorted by key, as ReadLeases returns them.
	byKey := map[string]Lease{}
	for _, l := range want {
		byKey[l.Key] = l
	}
	got, err := ReadLeases(context.Background(), client, table)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d leases, want %d: %+v", len(got), len(want), got)
	}
	for i, l := range got {
		if i > 0 && got[i-1].Key >= l.Key {
			t.Errorf("leases not ordered by key: %q before %q", got[i-1].Key, l.Key)
		}
		if w := byKey[l.Key]; !reflect.DeepEqual(l, w) {
			t.Errorf("lease %s:\n got %+v\nwant %+v", l.Key, l, w)
		}
	}

	// Paging: the same through pages of two items.
	paged, err := ReadLeases(context.Background(), smallPages{client}, table)
	if err != nil || !reflect.DeepEqual(paged, got) {
		t.Errorf("paged read: got %+v, %v; want %+v", paged, err, got)
	}
}

// smallPages scans two items a page.
type smallPages struct{ c *dynamodb.Client }

func (p smallPages) Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	in.Limit = aws.Int32(2)
	return p.c.Scan(ctx, in, opts...)
}

func TestReadLeasesRejectsGarbage(t *testing.T) {
	client := dynamo(t)
	for _, tc := range []struct {
		name string
		item item
		msg  string
	}{
		{"counter as S", item{"leaseKey": s("x"), "leaseCounter": s("7")}, `lease "x": attribute leaseCounter is S, want N: not a KCL lease item`},
		{"fractional counter", item{"leaseKey": s("x"), "leaseCounter": n("1.5")}, `lease "x": attribute leaseCounter is "1.5", want an integer: not a KCL lease item`},
		{"parents as S", item{"leaseKey": s("x"), "parentShardId": s("shardId-1")}, `lease "x": attribute parentShardId is S, want SS: not a KCL lease item`},
		{"bad checkpoint", item{"leaseKey": s("x"), "checkpoint": s("soon")}, `lease "x": checkpoint "soon" is neither a sequence number nor a sentinel: not a KCL lease item`},
		{"numeric key", item{"leaseKey": n("1")}, `attribute leaseKey is N, want a non-empty S: not a KCL lease item`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var table string
			if _, isN := tc.item["leaseKey"].(*types.AttributeValueMemberN); isN {
				table = numericTable(t, client) // leaseKey of the wrong kind
			} else {
				table = newTable(t, client, "garbage")
			}
			putItems(t, client, table, tc.item)
			_, err := ReadLeases(context.Background(), client, table)
			if !errors.Is(err, ErrNotLease) {
				t.Fatalf("got %v, want ErrNotLease", err)
			}
			if want := "read lease table " + table + ": " + tc.msg; err.Error() != want {
				t.Errorf("got %q\nwant %q", err, want)
			}
		})
	}
	t.Run("not a lease table", func(t *testing.T) {
		table := otherTable(t, client)
		putItems(t, client, table, item{"id": s("a"), "leaseCounter": n("1")})
		if _, err := ReadLeases(context.Background(), client, table); !errors.Is(err, ErrNotLease) {
			t.Errorf("got %v, want ErrNotLease", err)
		}
	})
	t.Run("missing table", func(t *testing.T) {
		_, err := ReadLeases(context.Background(), client, "no-such-table")
		if got := ErrorName(err); got != "ResourceNotFoundException" {
			t.Errorf("got %v (%q), want ResourceNotFoundException", err, got)
		}
	})
}

func createTable(t *testing.T, client *dynamodb.Client, name, key string, kind types.ScalarAttributeType) string {
	t.Helper()
	name = name + "-" + strconv.FormatInt(tableSeq.Add(1), 10)
	_, err := client.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(key), AttributeType: kind}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(key), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
	w := dynamodb.NewTableExistsWaiter(client)
	if err := w.Wait(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return name
}

func numericTable(t *testing.T, client *dynamodb.Client) string {
	return createTable(t, client, "numeric", "leaseKey", types.ScalarAttributeTypeN)
}

func otherTable(t *testing.T, client *dynamodb.Client) string {
	return createTable(t, client, "other", "id", types.ScalarAttributeTypeS)
}

func TestPollerReportsMoves(t *testing.T) {
	ctx := context.Background()
	client := dynamo(t)
	table := newTable(t, client, "poll")
	putItems(t, client, table,
		item{"leaseKey": s("shardId-000000000000"), "leaseOwner": s("a"), "leaseCounter": n("1"), "checkpoint": s(seqA)},
		item{"leaseKey": s("shardId-000000000001"), "leaseCounter": n("1"), "checkpoint": s("TRIM_HORIZON")})
	p := NewPoller(client, table)
	now := time.Unix(1700000000, 0)
	tips := map[string]ShardTip{"shardId-000000000000": {Recent: []Mark{{seqA, now.Add(-time.Minute)}, {seqB, now.Add(-time.Second)}}}}
	v, moves, err := p.Poll(ctx, tips, now)
	if err != nil || len(moves) != 0 || len(v.Workers) != 1 || !reflect.DeepEqual(v.Unowned, []string{"shardId-000000000001"}) {
		t.Fatalf("first Poll: got %+v, %+v, %v", v, moves, err)
	}
	if lag := v.Shards[0].Lag; lag != (Lag{Known: true, Records: 1, Time: time.Second}) {
		t.Errorf("lag: got %+v, want 1 record, 1s", lag)
	}
	putItems(t, client, table,
		item{"leaseKey": s("shardId-000000000000"), "leaseOwner": s("b"), "leaseCounter": n("2"), "checkpoint": s(seqA), "ownerSwitchesSinceCheckpoint": n("1")})
	_, moves, err = p.Poll(ctx, tips, now)
	want := []Move{{Key: "shardId-000000000000", Kind: MoveOwnerChanged, From: "a", To: "b", CounterFrom: 1, CounterTo: 2}}
	if err != nil || !reflect.DeepEqual(moves, want) {
		t.Errorf("second Poll: got %+v, %v; want %+v", moves, err, want)
	}
	if _, _, err := NewPoller(client, "missing").Poll(ctx, nil, now); ErrorName(err) != "ResourceNotFoundException" {
		t.Errorf("Poll of a missing table: got %v", err)
	}
}

// BenchmarkReadLeases reads a table of 256 KCL 2.x leases from dynalite:
// what one refresh of the console's consumers pane costs.
func BenchmarkReadLeases(b *testing.B) {
	ctx := context.Background()
	client := dynamo(b)
	table := newTable(b, client, "bench")
	lt := NewLeaseTable(client, table)
	for i := range 256 {
		l := consumers.Lease{ShardID: fmt.Sprintf("shardId-%012d", i), Owner: fmt.Sprintf("worker-%d", i%8), Counter: 42,
			Checkpoint: seqA, StartingHashKey: "0", EndingHashKey: maxH}
		if _, _, err := lt.Create(ctx, l); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		ls, err := ReadLeases(ctx, client, table)
		if err != nil || len(ls) != 256 {
			b.Fatalf("got %d leases, %v", len(ls), err)
		}
	}
}
