package api

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/engine/kms"
)

// Encryption at rest through the Go SDK: Start/StopStreamEncryption, KMS
// on replies, records, subscription events and descriptions, and the KMS
// errors as the SDK's typed errors (event-stream exceptions for
// SubscribeToShard).
func TestSDKStreamEncryption(t *testing.T) {
	env := newSDKEnv(t, engine.Options{DisableLimits: true})
	env.create("enc", 1)
	name := aws.String("enc")
	start := func(keyID string) error {
		_, err := env.c.StartStreamEncryption(bg, &kinesis.StartStreamEncryptionInput{StreamName: name, EncryptionType: types.EncryptionTypeKms, KeyId: aws.String(keyID)})
		return err
	}
	_, err := env.c.StartStreamEncryption(bg, &kinesis.StartStreamEncryptionInput{StreamName: name, EncryptionType: types.EncryptionTypeNone, KeyId: aws.String(kms.ManagedAlias)})
	wantErr[*types.InvalidArgumentException](t, err, "")
	wantErr[*types.KMSNotFoundException](t, start("alias/missing"), "Alias arn:aws:kms:us-east-1:000000000000:alias/missing is not found.")
	if out := env.put("enc", "k", "clear"); out.EncryptionType != types.EncryptionTypeNone {
		t.Fatalf("PutRecord before: EncryptionType %q", out.EncryptionType)
	}
	if err := start(kms.ManagedAlias); err != nil {
		t.Fatal(err)
	}
	sum, err := env.c.DescribeStreamSummary(bg, &kinesis.DescribeStreamSummaryInput{StreamName: name})
	if err != nil || sum.StreamDescriptionSummary.EncryptionType != types.EncryptionTypeKms || aws.ToString(sum.StreamDescriptionSummary.KeyId) != kms.ManagedAlias {
		t.Fatalf("DescribeStreamSummary = %+v, %v", sum, err)
	}
	d, err := env.c.DescribeStream(bg, &kinesis.DescribeStreamInput{StreamName: name})
	if err != nil || d.StreamDescription.EncryptionType != types.EncryptionTypeKms || aws.ToString(d.StreamDescription.KeyId) != kms.ManagedAlias {
		t.Fatalf("DescribeStream = %+v, %v", d, err)
	}
	if out := env.put("enc", "k", "sealed-1"); out.EncryptionType != types.EncryptionTypeKms {
		t.Fatalf("PutRecord: EncryptionType %q", out.EncryptionType)
	}
	prs, err := env.c.PutRecords(bg, &kinesis.PutRecordsInput{StreamName: name, Records: []types.PutRecordsRequestEntry{{PartitionKey: aws.String("k"), Data: []byte("sealed-2")}}})
	if err != nil || prs.EncryptionType != types.EncryptionTypeKms {
		t.Fatalf("PutRecords = %+v, %v", prs, err)
	}
	it := env.iterator(&kinesis.GetShardIteratorInput{StreamName: name, ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	got, err := env.c.GetRecords(bg, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
	if err != nil || len(got.Records) != 3 {
		t.Fatalf("GetRecords = %+v, %v", got, err)
	}
	for i, w := range []struct {
		data string
		enc  types.EncryptionType
	}{{"clear", types.EncryptionTypeNone}, {"sealed-1", types.EncryptionTypeKms}, {"sealed-2", types.EncryptionTypeKms}} {
		if r := got.Records[i]; string(r.Data) != w.data || r.EncryptionType != w.enc {
			t.Errorf("record %d = %q %q, want %q %q", i, r.Data, r.EncryptionType, w.data, w.enc)
		}
	}

	// A customer key by ARN, then disabled: writes, reads and a
	// subscription fail with KMSDisabledException.
	kr := env.e.Keyring()
	key, err := kr.Create("orders")
	if err != nil {
		t.Fatal(err)
	}
	if err := start(key.ARN); err != nil {
		t.Fatal(err)
	}
	env.put("enc", "k", "sealed-3")
	c := env.register(fanARNOf("enc"), "reader")
	s := env.subscribe(aws.ToString(c.ConsumerARN), "shardId-000000000000", &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon})
	ev, ok := nextEvent(t, s)
	if !ok || len(ev.Records) != 4 || ev.Records[3].EncryptionType != types.EncryptionTypeKms || string(ev.Records[3].Data) != "sealed-3" {
		t.Fatalf("subscription event %+v (ok %v)", ev, ok)
	}
	if err := kr.Disable(key.ID); err != nil {
		t.Fatal(err)
	}
	_, err = env.c.PutRecord(bg, &kinesis.PutRecordInput{StreamName: name, PartitionKey: aws.String("k"), Data: []byte("x")})
	wantErr[*types.KMSDisabledException](t, err, key.ARN+" is disabled.")
	_, err = env.c.GetRecords(bg, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
	wantErr[*types.KMSDisabledException](t, err, "")
	env.clock.Advance(6 * time.Second) // one SubscribeToShard per consumer and shard every 5 s
	s2 := env.subscribe(aws.ToString(c.ConsumerARN), "shardId-000000000000", &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon})
	var kd *types.KMSDisabledException
	if err := wantEnd(t, s2); !errors.As(err, &kd) {
		t.Fatalf("subscription ended with %v, want KMSDisabledException", err)
	}
	if err := kr.Enable(key.ID); err != nil {
		t.Fatal(err)
	}

	// Stop: new records are clear, old ones stay sealed and readable.
	_, err = env.c.StopStreamEncryption(bg, &kinesis.StopStreamEncryptionInput{StreamName: name, EncryptionType: types.EncryptionTypeKms, KeyId: aws.String(key.ARN)})
	if err != nil {
		t.Fatal(err)
	}
	if out := env.put("enc", "k", "clear-2"); out.EncryptionType != types.EncryptionTypeNone {
		t.Fatalf("PutRecord after stop: EncryptionType %q", out.EncryptionType)
	}
	data, _ := env.readShard("enc", "shardId-000000000000")
	if len(data) != 5 || data[3] != "sealed-3" || data[4] != "clear-2" {
		t.Fatalf("after stop: %q", data)
	}
	sum, _ = env.c.DescribeStreamSummary(bg, &kinesis.DescribeStreamSummaryInput{StreamName: name})
	if sum.StreamDescriptionSummary.EncryptionType != types.EncryptionTypeNone || sum.StreamDescriptionSummary.KeyId != nil {
		t.Fatalf("summary after stop: %q %v", sum.StreamDescriptionSummary.EncryptionType, sum.StreamDescriptionSummary.KeyId)
	}
}

func fanARNOf(stream string) string {
	return "arn:aws:kinesis:us-east-1:000000000000:stream/" + stream
}
