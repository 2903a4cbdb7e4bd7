package engine

import (
	"fmt"
	"slices"
	"testing"
)

func TestTagResource(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 1)
	streamARN := env.e.arn("s")
	c, err := env.e.RegisterStreamConsumer(ctx, RegisterConsumerInput{StreamARN: streamARN, ConsumerName: "app", Tags: map[string]string{"owner": "me"}})
	if err != nil {
		t.Fatal(err)
	}
	list := func(arn string) []Tag {
		t.Helper()
		tags, err := env.e.ListTagsForResource(ctx, arn)
		if err != nil {
			t.Fatalf("list %s: %v", arn, err)
		}
		return tags
	}

	// Bad input: validation first, whatever the resource.
	missing := env.e.arn("missing")
	for _, in := range []TagResourceInput{
		{ResourceARN: "", Tags: map[string]string{"a": "b"}},
		{ResourceARN: "arn:aws:sqs:us-east-1:000000000000:queue/q", Tags: map[string]string{"a": "b"}},
		{ResourceARN: missing},
		{ResourceARN: missing, Tags: map[string]string{}},
	} {
		wantCode(t, env.e.TagResource(ctx, in), ValidationException)
	}
	wantCode(t, env.e.UntagResource(ctx, UntagResourceInput{ResourceARN: missing}), ValidationException)
	wantCode(t, env.e.UntagResource(ctx, UntagResourceInput{ResourceARN: missing, TagKeys: []string{""}}), ValidationException)
	_, err = env.e.ListTagsForResource(ctx, "not-an-arn")
	wantCode(t, err, ValidationException)
	wantCode(t, env.e.TagResource(ctx, TagResourceInput{ResourceARN: missing, Tags: map[string]string{"aws:x": "y"}}), InvalidArgumentException)
	wantCode(t, env.e.TagResource(ctx, TagResourceInput{ResourceARN: missing, Tags: map[string]string{"a": "b"}}), ResourceNotFoundException)
	wantCode(t, env.e.TagResource(ctx, TagResourceInput{ResourceARN: streamARN + "/consumer/other:1", Tags: map[string]string{"a": "b"}}), ResourceNotFoundException)
	for _, odd := range []string{streamARN + "/consumer/app", streamARN + "/other", streamARN + "/consumer/", "arn:aws:kinesis:us-east-1:000000000000:x/stream/s"} {
		_, err := env.e.ListTagsForResource(ctx, odd)
		wantCode(t, err, InvalidArgumentException)
	}

	// A stream's ARN tags the same tags AddTagsToStream does.
	if err := env.e.AddTagsToStream(ctx, AddTagsInput{StreamRef: StreamRef{StreamName: "s"}, Tags: map[string]string{"env": "dev"}}); err != nil {
		t.Fatal(err)
	}
	if err := env.e.TagResource(ctx, TagResourceInput{ResourceARN: streamARN, Tags: map[string]string{"team": "data", "env": "prod"}}); err != nil {
		t.Fatal(err)
	}
	if got := list(streamARN); !slices.Equal(got, []Tag{{"env", "prod"}, {"team", "data"}}) {
		t.Fatalf("stream tags %v", got)
	}
	if l, _ := env.e.ListTagsForStream(ctx, ListTagsInput{StreamRef: StreamRef{StreamName: "s"}}); !slices.Equal(l.Tags, []Tag{{"env", "prod"}, {"team", "data"}}) {
		t.Fatalf("ListTagsForStream %v", l.Tags)
	}
	// A consumer's tags are its own, starting with those it was registered with.
	if err := env.e.TagResource(ctx, TagResourceInput{ResourceARN: c.ConsumerARN, Tags: map[string]string{"tier": "gold"}}); err != nil {
		t.Fatal(err)
	}
	if got := list(c.ConsumerARN); !slices.Equal(got, []Tag{{"owner", "me"}, {"tier", "gold"}}) {
		t.Fatalf("consumer tags %v", got)
	}
	if err := env.e.UntagResource(ctx, UntagResourceInput{ResourceARN: c.ConsumerARN, TagKeys: []string{"owner", "unknown"}}); err != nil {
		t.Fatal(err)
	}
	if err := env.e.UntagResource(ctx, UntagResourceInput{ResourceARN: streamARN, TagKeys: []string{"env"}}); err != nil {
		t.Fatal(err)
	}

	// Persisted.
	env.reopen()
	if got := list(c.ConsumerARN); !slices.Equal(got, []Tag{{"tier", "gold"}}) {
		t.Fatalf("consumer tags after reopen %v", got)
	}
	if got := list(streamARN); !slices.Equal(got, []Tag{{"team", "data"}}) {
		t.Fatalf("stream tags after reopen %v", got)
	}

	// At most 50 per resource, and a refused call changes nothing.
	many := map[string]string{}
	for i := range 50 {
		many[fmt.Sprintf("k%02d", i)] = "v"
	}
	wantCode(t, env.e.TagResource(ctx, TagResourceInput{ResourceARN: c.ConsumerARN, Tags: many}), InvalidArgumentException)
	if got := list(c.ConsumerARN); len(got) != 1 {
		t.Fatalf("refused tagging left %v", got)
	}
	delete(many, "k00")
	if err := env.e.TagResource(ctx, TagResourceInput{ResourceARN: c.ConsumerARN, Tags: many}); err != nil {
		t.Fatalf("50 tags: %v", err)
	}
	// A consumer ARN of an earlier registration under the same name is not this one.
	old := streamARN + "/consumer/app:1"
	_, err = env.e.ListTagsForResource(ctx, old)
	wantCode(t, err, ResourceNotFoundException)
}
