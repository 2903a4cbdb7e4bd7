package api

import (
	"context"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/shardscope/shardscope/api/auth"
	"github.com/shardscope/shardscope/engine"
)

// Access control on the wire: which resource each action is about, the
// condition keys of a request, and the resource-policy actions.

// noResourceActions are the actions whose Service Authorization Reference
// entry names no resource type: policies must grant them on "*".
var noResourceActions = map[string]bool{
	"ListStreams": true, "DescribeLimits": true, "DescribeAccountSettings": true, "UpdateAccountSettings": true,
	"EnableEnhancedMonitoring": true, "DisableEnhancedMonitoring": true, "UpdateShardCount": true, "UpdateStreamMode": true,
}

// consumerActions are about a consumer, named by ConsumerARN or by
// StreamARN and ConsumerName.
var consumerActions = map[string]bool{"DeregisterStreamConsumer": true, "DescribeStreamConsumer": true, "SubscribeToShard": true}

// refMembers turns a StreamRef back into request members.
func refMembers(ref engine.StreamRef) map[string]any {
	return map[string]any{"StreamName": ref.StreamName, "StreamARN": ref.StreamARN}
}

func member(m map[string]any, name string) string {
	s, _ := m[name].(string)
	return s
}

// resourceFor returns the ARN an action acts on, "*" when it names none
// (or names it in a way the action itself will refuse).
func (h *handler) resourceFor(action string, m map[string]any) string {
	if noResourceActions[action] {
		return "*"
	}
	if arn := member(m, "ResourceARN"); arn != "" {
		return arn
	}
	if arn := member(m, "ConsumerARN"); arn != "" {
		return arn
	}
	if it := member(m, "ShardIterator"); it != "" {
		if arn, ok := h.e.IteratorStreamARN(it); ok {
			return arn
		}
		return "*"
	}
	streamARN := member(m, "StreamARN")
	if streamARN == "" {
		if name := member(m, "StreamName"); name != "" {
			streamARN = h.e.StreamARN(name)
		}
	}
	if streamARN == "" {
		return "*"
	}
	if consumerActions[action] {
		if name := member(m, "ConsumerName"); name != "" {
			if arn, ok := h.e.ConsumerARNOf(streamARN, name); ok {
				return arn
			}
			return streamARN + "/consumer/" + name
		}
	}
	return streamARN
}

// authorize decides an authenticated request when policies are on; a
// denial is also an engine event, so the console shows it.
func (h *handler) authorize(r *http.Request, caller auth.Identity, action string, m map[string]any) *apiError {
	if h.policies == nil {
		return nil
	}
	req := auth.Request{Principal: caller.Principal, Action: "kinesis:" + action, Resource: h.resourceFor(action, m)}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	req.Context = auth.RequestContext(caller.Principal, ip, r.TLS != nil, h.e.Clock().Now())
	h.tagContext(r.Context(), req, m)
	var resPolicies []*auth.Policy
	for _, doc := range h.e.ResourcePolicies(req.Resource) {
		if p := parsedPolicy(doc); p != nil {
			resPolicies = append(resPolicies, p)
		}
	}
	if e := h.policies.Authorize(req, resPolicies); e != nil {
		h.e.NoteAccessDenied(req.Principal, req.Action, req.Resource)
		return &apiError{Code: e.Code, Message: e.Message, Status: e.Status}
	}
	return nil
}

// tagContext adds the tag condition keys: aws:RequestTag/K and
// aws:TagKeys from the request, aws:ResourceTag/K from the resource.
func (h *handler) tagContext(ctx context.Context, req auth.Request, m map[string]any) {
	var keys []string
	if tags, ok := m["Tags"].(map[string]any); ok {
		for k, v := range tags {
			if s, ok := v.(string); ok {
				req.Context["aws:requesttag/"+strings.ToLower(k)] = []string{s}
			}
			keys = append(keys, k)
		}
	}
	if list, ok := m["TagKeys"].([]any); ok {
		for _, k := range list {
			if s, ok := k.(string); ok {
				keys = append(keys, s)
			}
		}
	}
	if keys != nil {
		sort.Strings(keys)
		req.Context["aws:tagkeys"] = keys
	}
	if strings.HasPrefix(req.Resource, "arn:") {
		if tags, err := h.e.ListTagsForResource(ctx, req.Resource); err == nil {
			for _, t := range tags {
				req.Context["aws:resourcetag/"+strings.ToLower(t.Key)] = []string{t.Value}
			}
		}
	}
}

// policyCache keeps parsed resource policies by their text; the engine
// stores only documents that parsed, so a failure here is not expected.
var policyCache struct {
	sync.Mutex
	m map[string]*auth.Policy
}

const policyCacheSize = 1024

func parsedPolicy(doc string) *auth.Policy {
	policyCache.Lock()
	defer policyCache.Unlock()
	if p, ok := policyCache.m[doc]; ok {
		return p
	}
	p, err := auth.ParsePolicy([]byte(doc), true)
	if err != nil {
		return nil
	}
	if policyCache.m == nil || len(policyCache.m) >= policyCacheSize {
		policyCache.m = map[string]*auth.Policy{}
	}
	policyCache.m[doc] = p
	return p
}

// ---- PutResourcePolicy, GetResourcePolicy, DeleteResourcePolicy.

func putResourcePolicy(ctx context.Context, e *engine.Engine, in object) (any, error) {
	in.str("StreamId")
	arn := in.nonEmpty("ResourceARN")
	doc := in.nonEmpty("Policy")
	if err := in.done(); err != nil {
		return nil, err
	}
	if _, err := auth.ParsePolicy([]byte(doc), true); err != nil {
		return nil, &apiError{Code: string(engine.InvalidArgumentException), Message: "Invalid policy document: " + err.Error()}
	}
	return empty{}, e.PutResourcePolicy(ctx, arn, doc)
}

func getResourcePolicy(ctx context.Context, e *engine.Engine, in object) (any, error) {
	in.str("StreamId")
	arn := in.nonEmpty("ResourceARN")
	if err := in.done(); err != nil {
		return nil, err
	}
	doc, err := e.GetResourcePolicy(ctx, arn)
	if err != nil {
		return nil, err
	}
	if doc == "" {
		doc = "{}" // the service's answer for "none" is unconfirmed
	}
	return struct {
		Policy string `json:"Policy"`
	}{doc}, nil
}

func deleteResourcePolicy(ctx context.Context, e *engine.Engine, in object) (any, error) {
	in.str("StreamId")
	arn := in.nonEmpty("ResourceARN")
	if err := in.done(); err != nil {
		return nil, err
	}
	return empty{}, e.DeleteResourcePolicy(ctx, arn)
}

func init() {
	// Registered here, beside their access-control kin, rather than in
	// actions.go's table.
	actions["PutResourcePolicy"] = putResourcePolicy
	actions["GetResourcePolicy"] = getResourcePolicy
	actions["DeleteResourcePolicy"] = deleteResourcePolicy
}
