package engine

import (
	"context"
	"strings"
)

// Resource policies: PutResourcePolicy, GetResourcePolicy and
// DeleteResourcePolicy on stream and consumer ARNs. The engine keeps a
// policy as an opaque document beside the resource's tags, persisted in
// the stream's metadata; reading and evaluating IAM's grammar is the api
// layer's business. It also offers the few look-ups an authorizer needs
// (the stream an iterator reads, a consumer's ARN) and an event for a
// denied request.

// EventAccess is an access decision worth showing: a denied request.
const EventAccess EventKind = "access"

// MaxResourcePolicyBytes bounds a resource policy document (the service
// caps the policy size at 20 KiB).
const MaxResourcePolicyBytes = 20 << 10

func (t taggable) policy() string {
	if t.c != nil {
		return t.c.policy
	}
	return t.s.policy
}

func (t taggable) setPolicy(p string) {
	if t.c != nil {
		t.c.policy = p
	} else {
		t.s.policy = p
	}
}

// PutResourcePolicy attaches policy to the stream or consumer resourceARN
// names, replacing any policy it had.
func (e *Engine) PutResourcePolicy(ctx context.Context, resourceARN, policy string) error {
	var v validator
	v.resourceARN(resourceARN)
	if v.required(policy != "", "policy") && len(policy) > MaxResourcePolicyBytes {
		v.add("...", "policy", "Member must have length less than or equal to 20480")
	}
	if err := v.err(); err != nil {
		return err
	}
	return e.changePolicy(resourceARN, policy)
}

// DeleteResourcePolicy removes the policy of a stream or consumer; one
// without a policy is left as it is.
func (e *Engine) DeleteResourcePolicy(ctx context.Context, resourceARN string) error {
	var v validator
	v.resourceARN(resourceARN)
	if err := v.err(); err != nil {
		return err
	}
	return e.changePolicy(resourceARN, "")
}

func (e *Engine) changePolicy(resourceARN, policy string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, err := e.resource(resourceARN, true)
	if err != nil {
		return err
	}
	old := r.policy()
	r.setPolicy(policy)
	if err := e.saveStream(r.s); err != nil {
		r.setPolicy(old)
		return err
	}
	return nil
}

// GetResourcePolicy returns the policy of a stream or consumer, "" when it
// has none.
func (e *Engine) GetResourcePolicy(ctx context.Context, resourceARN string) (string, error) {
	var v validator
	v.resourceARN(resourceARN)
	if err := v.err(); err != nil {
		return "", err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	r, err := e.resource(resourceARN, false)
	if err != nil {
		return "", err
	}
	return r.policy(), nil
}

// ResourcePolicies returns the policies that govern access to
// resourceARN: the resource's own and, for a consumer, none of its
// stream's (the service evaluates the named resource only). Unknown or
// malformed ARNs have none.
func (e *Engine) ResourcePolicies(resourceARN string) []string {
	if !strings.HasPrefix(resourceARN, "arn:") {
		return nil
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	r, err := e.resource(resourceARN, false)
	if err != nil || r.policy() == "" {
		return nil
	}
	return []string{r.policy()}
}

// IteratorStreamARN returns the ARN of the stream a shard iterator reads,
// or false when the token is not one of this engine's iterators.
func (e *Engine) IteratorStreamARN(token string) (string, bool) {
	it, ok := e.signer.decodeIterator(token)
	if !ok {
		return "", false
	}
	return e.arn(it.stream), true
}

// StreamARN returns the ARN a stream of that name has (or would have).
func (e *Engine) StreamARN(name string) string { return e.arn(name) }

// ConsumerARNOf returns the ARN of the live consumer name of the stream
// streamARN names, or false when there is none.
func (e *Engine) ConsumerARNOf(streamARN, name string) (string, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	s, c, err := e.findConsumer(ConsumerRef{StreamARN: streamARN, ConsumerName: name}, e.clock.Now())
	if err != nil {
		return "", false
	}
	return e.consumerARN(s.name, c), true
}

// NoteAccessDenied records a denied request as an EventAccess event, so
// the console's events pane and the log show who was refused what.
func (e *Engine) NoteAccessDenied(principal, action, resource string) {
	stream := ""
	if _, path, ok := strings.Cut(resource, ":stream/"); ok {
		stream, _, _ = strings.Cut(path, "/")
	}
	e.event(EventAccess, stream, "", "denied %s to %s on %s", action, principal, resource)
}
