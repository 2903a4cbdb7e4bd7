package api

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/shardscope/shardscope/engine"
)

// testPolicies: alice administers every stream but may not delete
// "orders"; bob has no identity policy at all.
const testPolicies = `{
  "alice": {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "kinesis:*", "Resource": "*"},
    {"Effect": "Deny", "Action": "kinesis:DeleteStream", "Resource": "arn:aws:kinesis:*:*:stream/orders"}
  ]}
}`

// TestPoliciesGoSDK: one end-to-end case per kind of refusal, and the
// resource-policy actions, through the Go SDK.
func TestPoliciesGoSDK(t *testing.T) {
	env := newSecureEnv(t, testPolicies, false)
	alice, bob := env.alice(), env.bob()
	acct := env.e.Options().AccountID
	ordersARN := env.e.StreamARN("orders")
	bobARN := "arn:aws:iam::" + acct + ":user/bob"
	if _, err := alice.CreateStream(bg, &kinesis.CreateStreamInput{StreamName: aws.String("orders"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatalf("alice CreateStream: %v", err)
	}
	put := func(c *kinesis.Client) error {
		_, err := c.PutRecord(bg, &kinesis.PutRecordInput{StreamName: aws.String("orders"), PartitionKey: aws.String("k"), Data: []byte("x")})
		return err
	}
	if err := put(alice); err != nil {
		t.Fatalf("alice PutRecord: %v", err)
	}

	// No allow anywhere.
	wantAPIError(t, "bob PutRecord", put(bob), "AccessDeniedException",
		"User: "+bobARN+" is not authorized to perform: kinesis:PutRecord on resource: "+ordersARN+" because no identity-based policy allows the kinesis:PutRecord action")
	// GetRecords names its stream only through the iterator.
	it, err := alice.GetShardIterator(bg, &kinesis.GetShardIteratorInput{StreamName: aws.String("orders"), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: "TRIM_HORIZON"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bob.GetRecords(bg, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	wantAPIError(t, "bob GetRecords", err, "AccessDeniedException", "kinesis:GetRecords on resource: "+ordersARN+" because")
	// An explicit deny in alice's own policy.
	_, err = alice.DeleteStream(bg, &kinesis.DeleteStreamInput{StreamName: aws.String("orders")})
	wantAPIError(t, "alice DeleteStream", err, "AccessDeniedException", "kinesis:DeleteStream on resource: "+ordersARN+" with an explicit deny in an identity-based policy")

	// A resource policy lets bob write (same account: one side suffices).
	grant := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + bobARN + `"},"Action":["kinesis:PutRecord","kinesis:DescribeStreamSummary"],"Resource":"` + ordersARN + `"}]}`
	if _, err := alice.PutResourcePolicy(bg, &kinesis.PutResourcePolicyInput{ResourceARN: aws.String(ordersARN), Policy: aws.String(grant)}); err != nil {
		t.Fatalf("PutResourcePolicy: %v", err)
	}
	got, err := alice.GetResourcePolicy(bg, &kinesis.GetResourcePolicyInput{ResourceARN: aws.String(ordersARN)})
	if err != nil || aws.ToString(got.Policy) != grant {
		t.Fatalf("GetResourcePolicy: %v %q", err, aws.ToString(got.Policy))
	}
	if err := put(bob); err != nil {
		t.Fatalf("bob PutRecord with the resource policy: %v", err)
	}
	// A resource policy's explicit deny beats alice's allow.
	deny := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"kinesis:PutRecord","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}]}`
	if _, err := alice.PutResourcePolicy(bg, &kinesis.PutResourcePolicyInput{ResourceARN: aws.String(ordersARN), Policy: aws.String(deny)}); err != nil {
		t.Fatalf("PutResourcePolicy: %v", err)
	}
	wantAPIError(t, "alice PutRecord under a resource deny", put(alice), "AccessDeniedException", "with an explicit deny in a resource-based policy")
	// A malformed policy is refused.
	_, err = alice.PutResourcePolicy(bg, &kinesis.PutResourcePolicyInput{ResourceARN: aws.String(ordersARN), Policy: aws.String(`{"Statement":[{"Effect":"Allow"}]}`)})
	wantAPIError(t, "malformed policy", err, "InvalidArgumentException", "Invalid policy document")
	if _, err := alice.DeleteResourcePolicy(bg, &kinesis.DeleteResourcePolicyInput{ResourceARN: aws.String(ordersARN)}); err != nil {
		t.Fatalf("DeleteResourcePolicy: %v", err)
	}
	if err := put(alice); err != nil {
		t.Fatalf("alice PutRecord after the delete: %v", err)
	}
	wantAPIError(t, "bob PutRecord after the delete", put(bob), "AccessDeniedException", "because no identity-based policy allows")

	// Every refusal is an engine event, for the console's events pane.
	var denied []string
	for _, ev := range env.e.Snapshot().Events {
		if ev.Kind == engine.EventAccess {
			denied = append(denied, ev.Message)
		}
	}
	want := []string{
		"denied kinesis:PutRecord to " + bobARN + " on " + ordersARN,
		"denied kinesis:GetRecords to " + bobARN + " on " + ordersARN,
		"denied kinesis:DeleteStream to arn:aws:iam::" + acct + ":user/alice on " + ordersARN,
		"denied kinesis:PutRecord to arn:aws:iam::" + acct + ":user/alice on " + ordersARN,
		"denied kinesis:PutRecord to " + bobARN + " on " + ordersARN,
	}
	if strings.Join(denied, "\n") != strings.Join(want, "\n") {
		t.Fatalf("access events:\n%s\nwant:\n%s", strings.Join(denied, "\n"), strings.Join(want, "\n"))
	}
}
