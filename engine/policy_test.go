package engine

import (
	"strings"
	"testing"
)

func TestResourcePolicyKeptLikeTags(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 1)
	streamARN := env.e.arn("s")
	c, err := env.e.RegisterStreamConsumer(ctx, RegisterConsumerInput{StreamARN: streamARN, ConsumerName: "app"})
	if err != nil {
		t.Fatal(err)
	}
	get := func(arn string) string {
		t.Helper()
		p, err := env.e.GetResourcePolicy(ctx, arn)
		if err != nil {
			t.Fatalf("get %s: %v", arn, err)
		}
		return p
	}
	if p := get(streamARN); p != "" {
		t.Fatalf("new stream has policy %q", p)
	}
	if err := env.e.PutResourcePolicy(ctx, streamARN, `{"s":1}`); err != nil {
		t.Fatal(err)
	}
	if err := env.e.PutResourcePolicy(ctx, c.ConsumerARN, `{"c":1}`); err != nil {
		t.Fatal(err)
	}
	wantCode(t, env.e.PutResourcePolicy(ctx, env.e.arn("missing"), `{}`), ResourceNotFoundException)
	wantCode(t, env.e.PutResourcePolicy(ctx, streamARN, ""), ValidationException)
	wantCode(t, env.e.PutResourcePolicy(ctx, streamARN, strings.Repeat("x", MaxResourcePolicyBytes+1)), ValidationException)
	wantCode(t, env.e.PutResourcePolicy(ctx, "arn:aws:sqs:us-east-1:000000000000:queue/q", `{}`), ValidationException)

	env.reopen()
	if p := get(streamARN); p != `{"s":1}` {
		t.Fatalf("stream policy after reopen %q", p)
	}
	if p := get(c.ConsumerARN); p != `{"c":1}` {
		t.Fatalf("consumer policy after reopen %q", p)
	}
	if got := env.e.ResourcePolicies(c.ConsumerARN); len(got) != 1 || got[0] != `{"c":1}` {
		t.Fatalf("ResourcePolicies(consumer) = %v", got)
	}
	if err := env.e.DeleteResourcePolicy(ctx, streamARN); err != nil {
		t.Fatal(err)
	}
	if p := get(streamARN); p != "" || env.e.ResourcePolicies(streamARN) != nil {
		t.Fatalf("stream policy after delete %q", p)
	}
	if env.e.ResourcePolicies("*") != nil {
		t.Fatal(`"*" has policies`)
	}
}

func TestIteratorStreamARNAndDeniedEvent(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 1)
	it := env.iter("s", "shardId-000000000000", TrimHorizon, "", env.e.clock.Now())
	if arn, ok := env.e.IteratorStreamARN(it); !ok || arn != env.e.arn("s") {
		t.Fatalf("IteratorStreamARN = %q, %v", arn, ok)
	}
	if _, ok := env.e.IteratorStreamARN("forged"); ok {
		t.Fatal("a forged iterator names a stream")
	}
	env.e.NoteAccessDenied("arn:aws:iam::000000000000:user/bob", "kinesis:PutRecord", env.e.arn("s"))
	evs := env.e.Snapshot().Events
	last := evs[len(evs)-1]
	if last.Kind != EventAccess || last.Stream != "s" || !strings.Contains(last.Message, "denied kinesis:PutRecord to arn:aws:iam::000000000000:user/bob") {
		t.Fatalf("last event %+v", last)
	}
}
