package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Policy is one IAM policy document: identity-based (attached to a
// principal) or resource-based (attached to a stream or consumer, with a
// Principal in each statement).
type Policy struct {
	Version    string
	Statements []Statement
}

// Statement is one statement of a policy.
type Statement struct {
	Sid    string
	Effect Effect
	// Principals and NotPrincipals are "AWS" principals ("*", an account
	// id, or an ARN) of a resource policy; anyPrincipal is set for "*".
	Principals, NotPrincipals []string
	// Exactly one of Actions and NotActions is set; likewise Resources and
	// NotResources. Patterns may hold * and ?.
	Actions, NotActions     []string
	Resources, NotResources []string
	Conditions              []Condition
}

// Effect is Allow or Deny.
type Effect string

// The two effects.
const (
	Allow Effect = "Allow"
	Deny  Effect = "Deny"
)

// Condition is one operator-key test of a Condition block: the key (any
// case) must satisfy Operator against one of Values.
type Condition struct {
	Operator string // as written, e.g. StringLikeIfExists
	Key      string // lowercase
	Values   []string
}

// MaxPolicyBytes bounds a policy document read here.
const MaxPolicyBytes = 128 << 10

var knownVersions = []string{"2012-10-17", "2008-10-17"}

// ParsePolicy reads a policy document in IAM's JSON grammar. resource
// says whether it is a resource policy, whose statements must name a
// Principal or NotPrincipal; identity policies must not. Errors say what
// is wrong in terms of the grammar.
func ParsePolicy(doc []byte, resource bool) (*Policy, error) {
	if len(doc) > MaxPolicyBytes {
		return nil, fmt.Errorf("policy is %d bytes, over the %d-byte limit", len(doc), MaxPolicyBytes)
	}
	var top map[string]json.RawMessage
	if err := strictUnmarshal(doc, &top); err != nil {
		return nil, fmt.Errorf("policy is not a JSON object: %w", err)
	}
	p := &Policy{}
	for k, raw := range top {
		switch k {
		case "Version":
			if err := strictUnmarshal(raw, &p.Version); err != nil || !slices.Contains(knownVersions, p.Version) {
				return nil, fmt.Errorf("Version must be \"2012-10-17\" or \"2008-10-17\"")
			}
		case "Id":
		case "Statement":
			var list []json.RawMessage
			if len(bytes.TrimSpace(raw)) > 0 && bytes.TrimSpace(raw)[0] == '{' {
				list = []json.RawMessage{raw}
			} else if err := strictUnmarshal(raw, &list); err != nil {
				return nil, fmt.Errorf("Statement must be an object or a list of objects")
			}
			for i, r := range list {
				st, err := parseStatement(r, resource)
				if err != nil {
					return nil, fmt.Errorf("Statement %d: %w", i+1, err)
				}
				p.Statements = append(p.Statements, st)
			}
		default:
			return nil, fmt.Errorf("unknown policy element %q", k)
		}
	}
	if p.Statements == nil {
		return nil, errors.New("policy has no Statement")
	}
	return p, nil
}

func strictUnmarshal(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// stringList reads a string or a list of strings.
func stringList(raw json.RawMessage, what string) ([]string, error) {
	var one string
	if err := strictUnmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	if err := strictUnmarshal(raw, &many); err != nil || len(many) == 0 {
		return nil, fmt.Errorf("%s must be a string or a non-empty list of strings", what)
	}
	return many, nil
}

func parseStatement(raw json.RawMessage, resource bool) (Statement, error) {
	var m map[string]json.RawMessage
	if err := strictUnmarshal(raw, &m); err != nil || m == nil {
		return Statement{}, errors.New("a statement must be a JSON object")
	}
	var st Statement
	var err error
	for k, v := range m {
		switch k {
		case "Sid":
			if strictUnmarshal(v, &st.Sid) != nil {
				return st, errors.New("Sid must be a string")
			}
		case "Effect":
			var e string
			if strictUnmarshal(v, &e) != nil || (e != string(Allow) && e != string(Deny)) {
				return st, errors.New("Effect must be \"Allow\" or \"Deny\"")
			}
			st.Effect = Effect(e)
		case "Action":
			st.Actions, err = actionList(v, k)
		case "NotAction":
			st.NotActions, err = actionList(v, k)
		case "Resource":
			st.Resources, err = stringList(v, k)
		case "NotResource":
			st.NotResources, err = stringList(v, k)
		case "Principal":
			st.Principals, err = principalList(v)
		case "NotPrincipal":
			st.NotPrincipals, err = principalList(v)
		case "Condition":
			st.Conditions, err = parseConditions(v)
		default:
			return st, fmt.Errorf("unknown statement element %q", k)
		}
		if err != nil {
			return st, err
		}
	}
	switch {
	case st.Effect == "":
		return st, errors.New("Effect is required")
	case (st.Actions == nil) == (st.NotActions == nil):
		return st, errors.New("exactly one of Action and NotAction is required")
	case (st.Resources == nil) == (st.NotResources == nil):
		return st, errors.New("exactly one of Resource and NotResource is required")
	case st.Principals != nil && st.NotPrincipals != nil:
		return st, errors.New("Principal and NotPrincipal cannot both be given")
	case resource && st.Principals == nil && st.NotPrincipals == nil:
		return st, errors.New("a resource policy statement needs a Principal")
	case !resource && (st.Principals != nil || st.NotPrincipals != nil):
		return st, errors.New("an identity policy statement cannot name a Principal")
	}
	return st, nil
}

func actionList(raw json.RawMessage, what string) ([]string, error) {
	list, err := stringList(raw, what)
	if err != nil {
		return nil, err
	}
	for _, a := range list {
		if a == "*" {
			continue
		}
		svc, name, ok := strings.Cut(a, ":")
		if !ok || svc == "" || name == "" || strings.ContainsAny(svc, "*?") {
			return nil, fmt.Errorf("%s %q must be \"*\" or service:Name (kinesis:PutRecord, kinesis:Get*)", what, a)
		}
	}
	return list, nil
}

func principalList(raw json.RawMessage) ([]string, error) {
	var star string
	if strictUnmarshal(raw, &star) == nil {
		if star != "*" {
			return nil, errors.New(`Principal must be "*" or {"AWS": ...}`)
		}
		return []string{"*"}, nil
	}
	var m map[string]json.RawMessage
	if err := strictUnmarshal(raw, &m); err != nil {
		return nil, errors.New(`Principal must be "*" or {"AWS": ...}`)
	}
	var out []string
	for k, v := range m {
		if k != "AWS" {
			return nil, fmt.Errorf("Principal type %q is not supported (only \"AWS\")", k)
		}
		list, err := stringList(v, "Principal AWS")
		if err != nil {
			return nil, err
		}
		for _, p := range list {
			if p != "*" && !isAccountID(p) && !principalARN.MatchString(p) {
				return nil, fmt.Errorf("Principal %q is not \"*\", an account id or an IAM ARN", p)
			}
		}
		out = append(out, list...)
	}
	if out == nil {
		return nil, errors.New("Principal is empty")
	}
	return out, nil
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// operators are the condition operators evaluated, by lowercase base name.
var operators = map[string]bool{
	"stringequals": true, "stringnotequals": true, "stringequalsignorecase": true, "stringnotequalsignorecase": true,
	"stringlike": true, "stringnotlike": true,
	"arnequals": true, "arnlike": true, "arnnotequals": true, "arnnotlike": true,
	"ipaddress": true, "notipaddress": true, "bool": true, "null": true,
	"numericequals": true, "numericnotequals": true, "numericlessthan": true, "numericlessthanequals": true,
	"numericgreaterthan": true, "numericgreaterthanequals": true,
	"datelessthan": true, "datelessthanequals": true, "dategreaterthan": true, "dategreaterthanequals": true,
	"dateequals": true, "datenotequals": true,
}

func parseConditions(raw json.RawMessage) ([]Condition, error) {
	var block map[string]map[string]json.RawMessage
	if err := strictUnmarshal(raw, &block); err != nil {
		return nil, errors.New("Condition must be an object of operator → {key: value(s)}")
	}
	var out []Condition
	for op, keys := range block {
		base := strings.TrimSuffix(strings.ToLower(op), "ifexists")
		if strings.HasPrefix(base, "forallvalues:") || strings.HasPrefix(base, "foranyvalue:") {
			_, base, _ = strings.Cut(base, ":")
		}
		if !operators[base] || (base == "null" && strings.HasSuffix(strings.ToLower(op), "ifexists")) {
			return nil, fmt.Errorf("condition operator %q is not supported", op)
		}
		for k, v := range keys {
			vals, err := conditionValues(v)
			if err != nil {
				return nil, fmt.Errorf("condition %s %s: %w", op, k, err)
			}
			c := Condition{Operator: op, Key: strings.ToLower(k)}
			if err := c.check(vals); err != nil {
				return nil, fmt.Errorf("condition %s %s: %w", op, k, err)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// conditionValues reads a value or list; numbers and booleans count as
// their text, as IAM reads them.
func conditionValues(raw json.RawMessage) ([]any, error) {
	var one any
	if err := strictUnmarshal(raw, &one); err != nil {
		return nil, err
	}
	list, ok := one.([]any)
	if !ok {
		list = []any{one}
	}
	if len(list) == 0 {
		return nil, errors.New("no values")
	}
	return list, nil
}

func (c *Condition) base() string {
	b := strings.TrimSuffix(strings.ToLower(c.Operator), "ifexists")
	if _, after, ok := strings.Cut(b, ":"); ok {
		return after
	}
	return b
}

// check sets the values as strings and validates the typed ones.
func (c *Condition) check(vals []any) error {
	for _, v := range vals {
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case bool:
			s = strconv.FormatBool(v)
		case float64:
			s = strconv.FormatFloat(v, 'f', -1, 64)
		default:
			return errors.New("values must be strings, numbers or booleans")
		}
		c.Values = append(c.Values, s)
		switch b := c.base(); {
		case b == "ipaddress" || b == "notipaddress":
			if _, err := parseCIDR(s); err != nil {
				return fmt.Errorf("%q is not an IP address or CIDR block", s)
			}
		case strings.HasPrefix(b, "numeric"):
			if _, err := strconv.ParseFloat(s, 64); err != nil {
				return fmt.Errorf("%q is not a number", s)
			}
		case strings.HasPrefix(b, "date"):
			if _, ok := parseWhen(s); !ok {
				return fmt.Errorf("%q is not an ISO 8601 date or epoch seconds", s)
			}
		case b == "bool" || b == "null":
			if s != "true" && s != "false" {
				return fmt.Errorf("%q is not true or false", s)
			}
		}
	}
	return nil
}

func parseCIDR(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func parseWhen(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05Z0700", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), true
	}
	return time.Time{}, false
}
