package auth

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// Request is what a policy decides on.
type Request struct {
	// Principal is the caller's ARN.
	Principal string
	// Action is "kinesis:<Operation>".
	Action string
	// Resource is the stream or consumer ARN, or "*" for actions that
	// name none (ListStreams, DescribeLimits, ...).
	Resource string
	// Context holds condition keys (lowercase) and their values, e.g.
	// "aws:sourceip": {"127.0.0.1"}. A key that is absent is missing.
	Context map[string][]string
}

// Decision is the outcome of evaluating one policy, or all of them.
type Decision int

// Decisions, weakest first.
const (
	NotApplicable Decision = iota // no statement matched: implicit deny
	Allowed
	ExplicitDeny
)

// Evaluate decides one policy: ExplicitDeny if a Deny statement matches,
// Allowed if an Allow one does, else NotApplicable.
func (p *Policy) Evaluate(req Request) Decision {
	d := NotApplicable
	for i := range p.Statements {
		st := &p.Statements[i]
		if !st.matches(req) {
			continue
		}
		if st.Effect == Deny {
			return ExplicitDeny
		}
		d = Allowed
	}
	return d
}

func (st *Statement) matches(req Request) bool {
	if st.Principals != nil && !principalIn(st.Principals, req.Principal, st.Effect, req.Resource) {
		return false
	}
	if st.NotPrincipals != nil && principalIn(st.NotPrincipals, req.Principal, Deny, req.Resource) {
		return false
	}
	if st.Actions != nil && !anyMatch(st.Actions, req.Action, matchAction) {
		return false
	}
	if st.NotActions != nil && anyMatch(st.NotActions, req.Action, matchAction) {
		return false
	}
	if st.Resources != nil && !anyMatch(st.Resources, req.Resource, MatchARN) {
		return false
	}
	if st.NotResources != nil && anyMatch(st.NotResources, req.Resource, MatchARN) {
		return false
	}
	for i := range st.Conditions {
		if !st.Conditions[i].holds(req.Context) {
			return false
		}
	}
	return true
}

// principalIn says whether a resource policy's principal list names the
// caller. Naming the caller's account (its id or its root ARN) delegates
// to the account: for a caller in the resource's own account that grants
// nothing by itself (the identity policy must allow), while a Deny still
// applies to everyone in it.
func principalIn(list []string, principal string, effect Effect, resource string) bool {
	acct := accountOf(principal)
	same := acct != "" && acct == accountOf(resource)
	for _, p := range list {
		switch {
		case p == "*" || p == principal:
			return true
		case p == acct || p == "arn:aws:iam::"+acct+":root":
			if effect == Deny || !same {
				return true
			}
		}
	}
	return false
}

// accountOf is the account field of an ARN, "" for anything else.
func accountOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[4]
}

func anyMatch(patterns []string, s string, match func(p, s string) bool) bool {
	for _, p := range patterns {
		if match(p, s) {
			return true
		}
	}
	return false
}

// matchAction matches service:Name patterns, ignoring case.
func matchAction(pattern, action string) bool {
	return Glob(strings.ToLower(pattern), strings.ToLower(action))
}

// MatchARN matches a Resource pattern against an ARN: "*" matches all;
// otherwise the colon-separated parts are matched one by one with * and ?,
// and the pattern's last part takes the rest of the ARN, so the resource
// path (which may hold colons, as consumer ARNs do) matches as a whole
// and a trailing * may run past colons.
func MatchARN(pattern, arn string) bool {
	if pattern == "*" {
		return true
	}
	pp := strings.SplitN(pattern, ":", 6)
	ap := strings.SplitN(arn, ":", len(pp))
	if len(ap) != len(pp) {
		return false
	}
	for i := range pp {
		if !Glob(pp[i], ap[i]) {
			return false
		}
	}
	return true
}

// Glob matches s against a pattern where * is any run and ? one byte. It
// runs in O(len(p)·len(s)) at worst, whatever the input.
func Glob(p, s string) bool {
	px, sx := 0, 0
	nextP, nextS := -1, -1
	for px < len(p) || sx < len(s) {
		if px < len(p) {
			switch c := p[px]; c {
			case '*':
				nextP, nextS = px, sx+1
				px++
				continue
			case '?':
				if sx < len(s) {
					px++
					sx++
					continue
				}
			default:
				if sx < len(s) && s[sx] == c {
					px++
					sx++
					continue
				}
			}
		}
		if nextS > 0 && nextS <= len(s) {
			px, sx = nextP, nextS
			continue
		}
		return false
	}
	return true
}

// holds evaluates one condition: the key's values against the
// condition's, OR-ed (NOR-ed for the negated operators). A missing key
// fails the test, except for negated operators and …IfExists.
func (c *Condition) holds(ctx map[string][]string) bool {
	op := strings.ToLower(c.Operator)
	base := c.base()
	have, present := ctx[c.Key]
	if base == "null" {
		return (c.Values[0] == "true") == !present
	}
	negated := strings.Contains(base, "not")
	forAll := strings.HasPrefix(op, "forallvalues:")
	if !present {
		// ForAllValues holds vacuously over no values, as in IAM.
		return negated || forAll || strings.HasSuffix(op, "ifexists")
	}
	one := func(v string) bool {
		for _, want := range c.Values {
			if compare(base, v, want) {
				return true
			}
		}
		return false
	}
	if negated {
		// A negated operator holds when no value matches its positive form.
		pos := strings.Replace(base, "not", "", 1)
		for _, v := range have {
			for _, want := range c.Values {
				if compare(pos, v, want) {
					return false
				}
			}
		}
		return true
	}
	if forAll {
		for _, v := range have {
			if !one(v) {
				return false
			}
		}
		return true
	}
	for _, v := range have {
		if one(v) {
			return true
		}
	}
	return false
}

// compare applies a positive operator to one value.
func compare(op, v, want string) bool {
	switch op {
	case "stringequals":
		return v == want
	case "stringequalsignorecase":
		return strings.EqualFold(v, want)
	case "stringlike":
		return Glob(want, v)
	case "arnequals", "arnlike":
		return MatchARN(want, v)
	case "ipaddress":
		p, err := parseCIDR(want)
		a, err2 := netip.ParseAddr(v)
		return err == nil && err2 == nil && p.Contains(a.Unmap())
	case "bool":
		return strings.EqualFold(v, want)
	}
	if strings.HasPrefix(op, "numeric") {
		a, err := strconv.ParseFloat(v, 64)
		b, err2 := strconv.ParseFloat(want, 64)
		if err != nil || err2 != nil {
			return false
		}
		switch strings.TrimPrefix(op, "numeric") {
		case "equals":
			return a == b
		case "lessthan":
			return a < b
		case "lessthanequals":
			return a <= b
		case "greaterthan":
			return a > b
		case "greaterthanequals":
			return a >= b
		}
	}
	if strings.HasPrefix(op, "date") {
		a, ok := parseWhen(v)
		b, ok2 := parseWhen(want)
		if !ok || !ok2 {
			return false
		}
		switch strings.TrimPrefix(op, "date") {
		case "equals":
			return a.Equal(b)
		case "lessthan":
			return a.Before(b)
		case "lessthanequals":
			return !a.After(b)
		case "greaterthan":
			return a.After(b)
		case "greaterthanequals":
			return !a.Before(b)
		}
	}
	return false
}

// Authorizer decides requests with identity policies per principal and
// the resource's own policy, as IAM does: an explicit Deny anywhere wins;
// otherwise an Allow in either suffices within one account, and across
// accounts both sides must allow; no Allow means deny.
type Authorizer struct {
	identity map[string][]*Policy
}

// Principals returns how many principals have identity policies.
func (a *Authorizer) Principals() int { return len(a.identity) }

// LoadPolicies reads a policy file; see ParsePolicies.
func LoadPolicies(path, account string) (*Authorizer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a, err := ParsePolicies(f, account)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// ParsePolicies reads identity policies per principal: a JSON object whose
// keys are user names (of the account) or principal ARNs and whose values
// are one policy document or a list of them.
func ParsePolicies(r io.Reader, account string) (*Authorizer, error) {
	b, err := io.ReadAll(io.LimitReader(r, 16<<20))
	if err != nil {
		return nil, err
	}
	var top map[string]json.RawMessage
	if err := strictUnmarshal(b, &top); err != nil {
		return nil, fmt.Errorf("policy file must be a JSON object of principal → policy document(s): %w", err)
	}
	a := &Authorizer{identity: map[string][]*Policy{}}
	for name, raw := range top {
		principal, err := PrincipalFor(name, account)
		if err != nil {
			return nil, err
		}
		var docs []json.RawMessage
		if t := strings.TrimSpace(string(raw)); strings.HasPrefix(t, "[") {
			if err := json.Unmarshal(raw, &docs); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		} else {
			docs = []json.RawMessage{raw}
		}
		for i, d := range docs {
			p, err := ParsePolicy(d, false)
			if err != nil {
				return nil, fmt.Errorf("%s, policy %d: %w", name, i+1, err)
			}
			a.identity[principal] = append(a.identity[principal], p)
		}
	}
	return a, nil
}

// Authorize decides req given the resource's policies; nil means allowed,
// else an AccessDeniedException in the service's words.
func (a *Authorizer) Authorize(req Request, resourcePolicies []*Policy) *Error {
	var idAllow, resAllow bool
	for _, p := range a.identity[req.Principal] {
		switch p.Evaluate(req) {
		case ExplicitDeny:
			return denied(req, "with an explicit deny in an identity-based policy")
		case Allowed:
			idAllow = true
		}
	}
	for _, p := range resourcePolicies {
		switch p.Evaluate(req) {
		case ExplicitDeny:
			return denied(req, "with an explicit deny in a resource-based policy")
		case Allowed:
			resAllow = true
		}
	}
	same := accountOf(req.Resource) == "" || accountOf(req.Resource) == accountOf(req.Principal)
	switch {
	case same && (idAllow || resAllow), idAllow && resAllow:
		return nil
	case !idAllow:
		return denied(req, "because no identity-based policy allows the "+req.Action+" action")
	}
	return denied(req, "because no resource-based policy allows the "+req.Action+" action")
}

func denied(req Request, why string) *Error {
	return fail(AccessDenied, "User: %s is not authorized to perform: %s on resource: %s %s", req.Principal, req.Action, req.Resource, why)
}

// RequestContext returns the global condition keys of a request.
func RequestContext(principal, sourceIP string, tls bool, now time.Time) map[string][]string {
	ctx := map[string][]string{
		"aws:principalarn":     {principal},
		"aws:principalaccount": {accountOf(principal)},
		"aws:principaltype":    {"User"},
		"aws:securetransport":  {strconv.FormatBool(tls)},
		"aws:currenttime":      {now.UTC().Format(time.RFC3339)},
		"aws:epochtime":        {strconv.FormatInt(now.Unix(), 10)},
	}
	if sourceIP != "" {
		ctx["aws:sourceip"] = []string{sourceIP}
	}
	if _, name, ok := strings.Cut(principal, ":user/"); ok {
		ctx["aws:username"] = []string{name[strings.LastIndexByte(name, '/')+1:]}
	}
	return ctx
}
