package engine

import (
	"context"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// ARN-based tagging: TagResource, UntagResource and ListTagsForResource on
// stream and consumer ARNs. A stream's tags are the ones AddTagsToStream
// and ListTagsForStream see; a consumer's are the ones
// RegisterStreamConsumer was given.

// TagResourceInput is the input of TagResource.
type TagResourceInput struct {
	ResourceARN string
	Tags        map[string]string
}

// UntagResourceInput is the input of UntagResource.
type UntagResourceInput struct {
	ResourceARN string
	TagKeys     []string
}

var resourceARNPattern = regexp.MustCompile(`^arn:aws.*:kinesis:.*:\d{12}:.*stream/\S+$`)

const resourceARNPatternText = `arn:aws.*:kinesis:.*:\d{12}:.*stream/\S+`

func (v *validator) resourceARN(arn string) {
	if v.required(arn != "", "resourceARN") {
		v.length(arn, "resourceARN", 1, 2048)
		v.pattern(arn, "resourceARN", resourceARNPattern, resourceARNPatternText)
	}
}

// taggable is a resource found by its ARN: a stream, or one of its consumers.
type taggable struct {
	s    *stream
	c    *consumer // nil for the stream itself
	what string    // "stream S" or "consumer C of stream S", for messages
}

func (t taggable) tags() map[string]string {
	if t.c != nil {
		if t.c.tags == nil {
			t.c.tags = map[string]string{}
		}
		return t.c.tags
	}
	return t.s.tags
}

// resource finds the stream or consumer an ARN names. change asks for one
// that takes changes: an ACTIVE stream, a consumer not being deleted.
// e.mu is held.
func (e *Engine) resource(arn string, change bool) (taggable, error) {
	_, path, _ := strings.Cut(arn, ":stream/")
	if strings.Contains(path, "/consumer/") {
		if !consumerARNPattern.MatchString(arn) {
			return taggable{}, newError(InvalidArgumentException, "ResourceARN %s is neither a stream ARN nor a consumer ARN.", arn)
		}
		now := e.clock.Now()
		s, c, err := e.findConsumer(ConsumerRef{ConsumerARN: arn}, now)
		if err != nil {
			return taggable{}, err
		}
		if change && c.status(now) == ConsumerDeleting {
			return taggable{}, newError(ResourceInUseException, "Consumer %s under stream %s under account %s is DELETING.", c.name, s.name, e.opts.AccountID)
		}
		return taggable{s: s, c: c, what: "consumer " + c.name + " of stream " + s.name}, nil
	}
	if strings.Contains(path, "/") || !arnPattern.MatchString(arn) {
		return taggable{}, newError(InvalidArgumentException, "ResourceARN %s is neither a stream ARN nor a consumer ARN.", arn)
	}
	ref := StreamRef{StreamARN: arn}
	var s *stream
	var err error
	if change {
		s, err = e.forChange(ref)
	} else {
		s, err = e.lookup(ref)
	}
	if err != nil {
		return taggable{}, err
	}
	return taggable{s: s, what: "stream " + s.name}, nil
}

// TagResource adds or overwrites tags of a stream or consumer; a resource
// has at most 50.
func (e *Engine) TagResource(ctx context.Context, in TagResourceInput) error {
	var v validator
	v.resourceARN(in.ResourceARN)
	if v.required(in.Tags != nil, "tags") {
		if len(in.Tags) < 1 {
			v.add("{}", "tags", "Member must have length greater than or equal to 1")
		}
		if len(in.Tags) > 200 {
			v.add(len(in.Tags), "tags", "Member must have length less than or equal to 200")
		}
	}
	if err := v.err(); err != nil {
		return err
	}
	if err := checkTags(in.Tags, 0); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	r, err := e.resource(in.ResourceARN, true)
	if err != nil {
		return err
	}
	tags := r.tags()
	added := 0
	for k := range in.Tags {
		if _, ok := tags[k]; !ok {
			added++
		}
	}
	if len(tags)+added > 50 {
		return newError(InvalidArgumentException, "Failed to add tags to %s under account %s because a given resource cannot have more than 50 tags associated with it.", r.what, e.opts.AccountID)
	}
	old := make(map[string]string, len(tags))
	for k, val := range tags {
		old[k] = val
	}
	for k, val := range in.Tags {
		tags[k] = val
	}
	if err := e.saveStream(r.s); err != nil {
		r.restore(old)
		return err
	}
	return nil
}

// UntagResource removes tags of a stream or consumer; unknown keys are ignored.
func (e *Engine) UntagResource(ctx context.Context, in UntagResourceInput) error {
	var v validator
	v.resourceARN(in.ResourceARN)
	if v.required(in.TagKeys != nil, "tagKeys") {
		if len(in.TagKeys) < 1 {
			v.add("[]", "tagKeys", "Member must have length greater than or equal to 1")
		}
		if len(in.TagKeys) > 50 {
			v.add(len(in.TagKeys), "tagKeys", "Member must have length less than or equal to 50")
		}
	}
	for i, k := range in.TagKeys {
		v.length(k, "tagKeys."+strconv.Itoa(i+1)+".member", 1, 128)
	}
	if err := v.err(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	r, err := e.resource(in.ResourceARN, true)
	if err != nil {
		return err
	}
	if err := checkTagKeys(in.TagKeys); err != nil {
		return err
	}
	tags := r.tags()
	old := make(map[string]string, len(tags))
	for k, val := range tags {
		old[k] = val
	}
	for _, k := range in.TagKeys {
		delete(tags, k)
	}
	if err := e.saveStream(r.s); err != nil {
		r.restore(old)
		return err
	}
	return nil
}

// ListTagsForResource lists every tag of a stream or consumer, by key.
func (e *Engine) ListTagsForResource(ctx context.Context, resourceARN string) ([]Tag, error) {
	var v validator
	v.resourceARN(resourceARN)
	if err := v.err(); err != nil {
		return nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	r, err := e.resource(resourceARN, false)
	if err != nil {
		return nil, err
	}
	var src map[string]string
	if r.c != nil {
		src = r.c.tags // read-only here: no lazy map under the shared lock
	} else {
		src = r.s.tags
	}
	keys := make([]string, 0, len(src))
	for k := range src {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, Tag{Key: k, Value: src[k]})
	}
	return out, nil
}

// restore puts back the tags a failed save changed. e.mu is held.
func (t taggable) restore(old map[string]string) {
	if t.c != nil {
		t.c.tags = old
	} else {
		t.s.tags = old
	}
}
