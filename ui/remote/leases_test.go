package remote

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	apiremote "github.com/shardscope/shardscope/api/remote"
	"github.com/shardscope/shardscope/api/remote/remotetest"
	"github.com/shardscope/shardscope/consumers"
	"github.com/shardscope/shardscope/consumers/kcl"
	"github.com/shardscope/shardscope/engine"
)

// --lease-table: the console attached to shardscope serve shows a KCL
// application whose lease table (the items KCL 2.x writes) lives in
// dynalite — its workers, each lease's checkpoint and how far it is
// behind the records the console read, a lease nobody holds — and a lease
// that moves to another worker as an event.
func TestAttachShowsAKCLLeaseTable(t *testing.T) {
	url := remotetest.Serve(t)
	sdk := remotetest.SDK(url)
	remotetest.CreateStream(t, sdk, "orders", 2)
	remotetest.Put(t, sdk, "orders", "a", 40)
	shards, err := sdk.ListShards(bg, &kinesis.ListShardsInput{StreamName: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	s0, s1 := aws.ToString(shards.Shards[0].ShardId), aws.ToString(shards.Shards[1].ShardId)
	// The KCL application processed shard 0 up to its first record.
	it, err := sdk.GetShardIterator(bg, &kinesis.GetShardIteratorInput{StreamName: aws.String("orders"), ShardId: aws.String(s0), ShardIteratorType: "TRIM_HORIZON"})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := sdk.GetRecords(bg, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil || len(recs.Records) < 2 {
		t.Fatalf("shard 0: %v, %d records", err, len(recs.Records))
	}
	behind0 := len(recs.Records) - 1

	dyn := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(remotetest.Dynalite(t)),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	if err := kcl.CreateLeaseTable(bg, dyn, "orders-app", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	put := func(l consumers.Lease) {
		t.Helper()
		if _, err := dyn.PutItem(bg, &dynamodb.PutItemInput{TableName: aws.String("orders-app"), Item: kcl.Item(l)}); err != nil {
			t.Fatal(err)
		}
	}
	put(consumers.Lease{ShardID: s0, Owner: "worker-1", Counter: 5, Checkpoint: aws.ToString(recs.Records[0].SequenceNumber)})
	put(consumers.Lease{ShardID: s1, Counter: 2, Checkpoint: consumers.CheckpointTrimHorizon})

	b := start(t, remotetest.Remote(url, apiremote.Options{}), Config{Stream: "orders", From: From{Type: engine.TrimHorizon},
		LeaseTable: "orders-app", DynamoDBEndpoint: aws.ToString(dyn.Options().BaseEndpoint), LeaseInterval: 200 * time.Millisecond})
	var view string
	remotetest.Eventually(t, "the KCL application in the consumers pane", 30*time.Second, func() bool {
		for _, v := range b.Consumers() {
			if v.Name != "KCL orders-app" {
				continue
			}
			view = fmt.Sprintf("%+v", v)
			if len(v.Workers) != 1 || v.Workers[0].ID != "worker-1" || len(v.PerShard) != 2 {
				return false
			}
			l0, l1 := v.PerShard[0], v.PerShard[1]
			return l0.ShardID == s0 && l0.Owner == "worker-1" && l0.Behind == int64(behind0) && l0.Lag > 0 &&
				l1.ShardID == s1 && l1.Owner == "" && l1.Behind > 0 &&
				strings.Contains(strings.Join(v.Summary, "\n"), "1 workers · 2 leases · 1 unowned")
		}
		return false
	})
	t.Logf("%s", view)

	put(consumers.Lease{ShardID: s0, Owner: "worker-2", Counter: 6, Checkpoint: aws.ToString(recs.Records[0].SequenceNumber)})
	remotetest.Eventually(t, "the move as an event", 10*time.Second, func() bool {
		return hasEvent(b, "lease "+s0+" owner changed: worker-1 → worker-2 (leaseCounter 5 → 6)")
	})
}

// A lease table that is not there is said in the pane and as an event.
func TestAttachMissingLeaseTable(t *testing.T) {
	url := remotetest.Serve(t)
	sdk := remotetest.SDK(url)
	remotetest.CreateStream(t, sdk, "orders", 1)
	b := start(t, remotetest.Remote(url, apiremote.Options{}), Config{Stream: "orders",
		LeaseTable: "nope", DynamoDBEndpoint: remotetest.Dynalite(t), LeaseInterval: 200 * time.Millisecond})
	remotetest.Eventually(t, "the missing table told", 20*time.Second, func() bool {
		return hasEvent(b, "lease table nope: ResourceNotFoundException")
	})
}
