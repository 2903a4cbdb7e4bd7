package auth

import (
	"strings"
	"testing"
	"time"
)

const (
	acct    = "111122223333"
	alice   = "arn:aws:iam::111122223333:user/alice"
	bob     = "arn:aws:iam::111122223333:user/bob"
	outside = "arn:aws:iam::999988887777:user/eve"
	orders  = "arn:aws:kinesis:us-east-1:111122223333:stream/orders"
	clicks  = "arn:aws:kinesis:us-east-1:111122223333:stream/clicks"
	ordCons = "arn:aws:kinesis:us-east-1:111122223333:stream/orders/consumer/app:1700000000"
)

func mustPolicy(t *testing.T, doc string, resource bool) *Policy {
	t.Helper()
	p, err := ParsePolicy([]byte(doc), resource)
	if err != nil {
		t.Fatalf("ParsePolicy(%s): %v", doc, err)
	}
	return p
}

func TestPolicyEvaluation(t *testing.T) {
	ctx := func(ip string) map[string][]string {
		return RequestContext(alice, ip, false, time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	}
	tests := []struct {
		name     string
		identity string // alice's policy
		resource string // the resource's policy, "" for none
		req      Request
		want     string // "" allowed, else the end of the AccessDenied message
	}{
		{"allow exact", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kinesis:PutRecord","Resource":"` + orders + `"}]}`, "",
			Request{Principal: alice, Action: "kinesis:PutRecord", Resource: orders}, ""},
		{"no allow means deny", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kinesis:PutRecord","Resource":"` + orders + `"}]}`, "",
			Request{Principal: alice, Action: "kinesis:GetRecords", Resource: orders}, "because no identity-based policy allows the kinesis:GetRecords action"},
		{"action wildcard, any case", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"Kinesis:put*","Resource":"*"}}`, "",
			Request{Principal: alice, Action: "kinesis:PutRecords", Resource: orders}, ""},
		{"action ? wildcard", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:PutRecord?","Resource":"*"}}`, "",
			Request{Principal: alice, Action: "kinesis:PutRecord", Resource: orders}, "because no identity-based policy allows the kinesis:PutRecord action"},
		{"resource wildcard in the name", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"arn:aws:kinesis:*:111122223333:stream/ord*"}}`, "",
			Request{Principal: alice, Action: "kinesis:DescribeStream", Resource: orders}, ""},
		{"resource wildcard misses", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"arn:aws:kinesis:*:111122223333:stream/ord*"}}`, "",
			Request{Principal: alice, Action: "kinesis:DescribeStream", Resource: clicks}, "because no identity-based policy allows"},
		{"region wildcard stays in its segment", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"arn:aws:kinesis:us-*:stream/orders"}}`, "",
			Request{Principal: alice, Action: "kinesis:DescribeStream", Resource: orders}, "because no identity-based policy allows"},
		{"stream/* covers consumers", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:SubscribeToShard","Resource":"arn:aws:kinesis:us-east-1:111122223333:stream/orders/*"}}`, "",
			Request{Principal: alice, Action: "kinesis:SubscribeToShard", Resource: ordCons}, ""},
		{"no-resource action needs *", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:ListStreams","Resource":"arn:aws:kinesis:*:*:stream/*"}}`, "",
			Request{Principal: alice, Action: "kinesis:ListStreams", Resource: "*"}, "because no identity-based policy allows the kinesis:ListStreams action"},
		{"explicit deny wins", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kinesis:*","Resource":"*"},{"Effect":"Deny","Action":"kinesis:DeleteStream","Resource":"*"}]}`, "",
			Request{Principal: alice, Action: "kinesis:DeleteStream", Resource: orders}, "with an explicit deny in an identity-based policy"},
		{"NotAction allow", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":["kinesis:Delete*"],"Resource":"*"}}`, "",
			Request{Principal: alice, Action: "kinesis:PutRecord", Resource: orders}, ""},
		{"NotAction allow leaves the listed", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":["kinesis:Delete*"],"Resource":"*"}}`, "",
			Request{Principal: alice, Action: "kinesis:DeleteStream", Resource: orders}, "because no identity-based policy allows"},
		{"NotAction deny", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","NotAction":"kinesis:Get*","Resource":"` + orders + `"}]}`, "",
			Request{Principal: alice, Action: "kinesis:PutRecord", Resource: orders}, "with an explicit deny"},
		{"NotResource", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:*","NotResource":"` + orders + `"}}`, "",
			Request{Principal: alice, Action: "kinesis:PutRecord", Resource: clicks}, ""},
		{"NotResource excludes", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:*","NotResource":"` + orders + `"}}`, "",
			Request{Principal: alice, Action: "kinesis:PutRecord", Resource: orders}, "because no identity-based policy allows"},
		{"SourceIp in CIDR", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}}}`, "",
			Request{Principal: alice, Action: "kinesis:PutRecord", Resource: orders, Context: ctx("127.0.0.1")}, ""},
		{"SourceIp outside CIDR", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}`, "",
			Request{Principal: alice, Action: "kinesis:PutRecord", Resource: orders, Context: ctx("127.0.0.1")}, "because no identity-based policy allows"},
		{"StringEquals SourceIp, key any case", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"*","Condition":{"StringEquals":{"AWS:SOURCEIP":["10.1.1.1","::1"]}}}}`, "",
			Request{Principal: alice, Action: "kinesis:PutRecord", Resource: orders, Context: ctx("::1")}, ""},
		{"StringLike SourceIp", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"*","Condition":{"StringLike":{"aws:SourceIp":"127.0.*"}}}}`, "",
			Request{Principal: alice, Action: "kinesis:PutRecord", Resource: orders, Context: ctx("127.0.0.1")}, ""},
		{"StringLike misses", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"*","Condition":{"StringLike":{"aws:SourceIp":"192.168.*"}}}}`, "",
			Request{Principal: alice, Action: "kinesis:PutRecord", Resource: orders, Context: ctx("127.0.0.1")}, "because no identity-based policy allows"},
		{"missing key fails a condition", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"*","Condition":{"StringEquals":{"kinesis:SomeKey":"x"}}}}`, "",
			Request{Principal: alice, Action: "kinesis:PutRecord", Resource: orders, Context: ctx("127.0.0.1")}, "because no identity-based policy allows"},
		{"missing key passes a negated condition", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"*","Condition":{"StringNotEquals":{"kinesis:SomeKey":"x"}}}}`, "",
			Request{Principal: alice, Action: "kinesis:PutRecord", Resource: orders, Context: ctx("127.0.0.1")}, ""},
		{"IfExists passes a missing key", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"*","Condition":{"StringEqualsIfExists":{"aws:RequestTag/team":"data"}}}}`, "",
			Request{Principal: alice, Action: "kinesis:PutRecord", Resource: orders, Context: ctx("127.0.0.1")}, ""},
		{"ForAllValues holds over a missing key", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["team"]}}}}`, "",
			Request{Principal: alice, Action: "kinesis:PutRecord", Resource: orders, Context: ctx("127.0.0.1")}, ""},
		{"ForAllValues fails on an unlisted value", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["team"]}}}}`, "",
			Request{Principal: alice, Action: "kinesis:AddTagsToStream", Resource: orders, Context: map[string][]string{"aws:tagkeys": {"team", "cost"}}}, "because no identity-based policy allows"},
		{"Bool SecureTransport deny", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kinesis:*","Resource":"*"},{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":false}}}]}`, "",
			Request{Principal: alice, Action: "kinesis:PutRecord", Resource: orders, Context: ctx("127.0.0.1")}, "with an explicit deny in an identity-based policy"},
		{"two operators are AND-ed", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"},"StringEquals":{"aws:username":"bob"}}}}`, "",
			Request{Principal: alice, Action: "kinesis:PutRecord", Resource: orders, Context: ctx("127.0.0.1")}, "because no identity-based policy allows"},
		{"ArnLike PrincipalArn", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"*","Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/a*"}}}}`, "",
			Request{Principal: alice, Action: "kinesis:PutRecord", Resource: orders, Context: ctx("127.0.0.1")}, ""},
		{"resource policy allows the user (same account)", "", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"` + alice + `"},"Action":"kinesis:PutRecord","Resource":"` + orders + `"}}`,
			Request{Principal: alice, Action: "kinesis:PutRecord", Resource: orders}, ""},
		{"resource policy naming the account grants a user nothing by itself", "", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kinesis:*","Resource":"*"}}`,
			Request{Principal: alice, Action: "kinesis:PutRecord", Resource: orders}, "because no identity-based policy allows"},
		{"resource policy for someone else", "", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"` + bob + `"},"Action":"kinesis:*","Resource":"*"}}`,
			Request{Principal: alice, Action: "kinesis:PutRecord", Resource: orders}, "because no identity-based policy allows"},
		{"resource policy deny beats identity allow", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"*"}}`, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"kinesis:PutRecord","Resource":"*"}}`,
			Request{Principal: alice, Action: "kinesis:PutRecord", Resource: orders}, "with an explicit deny in a resource-based policy"},
		{"account deny covers its users", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"*"}}`, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":{"AWS":"111122223333"},"Action":"kinesis:PutRecord","Resource":"*"}}`,
			Request{Principal: alice, Action: "kinesis:PutRecord", Resource: orders}, "with an explicit deny in a resource-based policy"},
		{"NotPrincipal deny spares the named", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"*"}}`, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"` + alice + `"},"Action":"*","Resource":"*"}}`,
			Request{Principal: alice, Action: "kinesis:PutRecord", Resource: orders}, ""},
		{"cross account needs both sides", "", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"999988887777"},"Action":"kinesis:PutRecord","Resource":"*"}}`,
			Request{Principal: outside, Action: "kinesis:PutRecord", Resource: orders}, "because no identity-based policy allows"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := &Authorizer{identity: map[string][]*Policy{}}
			if tc.identity != "" {
				a.identity[tc.req.Principal] = []*Policy{mustPolicy(t, tc.identity, false)}
			}
			var res []*Policy
			if tc.resource != "" {
				res = []*Policy{mustPolicy(t, tc.resource, true)}
			}
			err := a.Authorize(tc.req, res)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("denied: %v", err)
			case tc.want == "":
			case err == nil:
				t.Fatalf("allowed, want denied %q", tc.want)
			case err.Code != AccessDenied || !strings.Contains(err.Message, tc.want):
				t.Fatalf("got %v, want AccessDeniedException …%s", err, tc.want)
			}
		})
	}
}

// TestAccessDeniedWording checks the whole message against the service's.
func TestAccessDeniedWording(t *testing.T) {
	a := &Authorizer{identity: map[string][]*Policy{}}
	err := a.Authorize(Request{Principal: alice, Action: "kinesis:PutRecord", Resource: orders}, nil)
	want := "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: kinesis:PutRecord on resource: arn:aws:kinesis:us-east-1:111122223333:stream/orders because no identity-based policy allows the kinesis:PutRecord action"
	if err == nil || err.Message != want || err.Status != 400 {
		t.Fatalf("got %v, want 400 %q", err, want)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	for _, tc := range []struct {
		doc      string
		resource bool
		want     string
	}{
		{`[]`, false, "not a JSON object"},
		{`{"Version":"2012-10-17"}`, false, "no Statement"},
		{`{"Version":"2020-01-01","Statement":[]}`, false, "Version must be"},
		{`{"Statement":{"Effect":"Maybe","Action":"*","Resource":"*"}}`, false, "Effect must be"},
		{`{"Statement":{"Effect":"Allow","Resource":"*"}}`, false, "exactly one of Action and NotAction"},
		{`{"Statement":{"Effect":"Allow","Action":"*","NotAction":"*","Resource":"*"}}`, false, "exactly one of Action and NotAction"},
		{`{"Statement":{"Effect":"Allow","Action":"*"}}`, false, "exactly one of Resource and NotResource"},
		{`{"Statement":{"Effect":"Allow","Action":"PutRecord","Resource":"*"}}`, false, "service:Name"},
		{`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Principal":"*"}}`, false, "cannot name a Principal"},
		{`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, true, "needs a Principal"},
		{`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringMaybe":{"a":"b"}}}}`, false, "not supported"},
		{`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"nope"}}}}`, false, "not an IP address"},
		{`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Extra":1}}`, false, "unknown statement element"},
		{`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}} trailing`, false, "not a JSON object"},
	} {
		_, err := ParsePolicy([]byte(tc.doc), tc.resource)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParsePolicy(%s) = %v, want an error containing %q", tc.doc, err, tc.want)
		}
	}
}

func TestParsePoliciesFile(t *testing.T) {
	a, err := ParsePolicies(strings.NewReader(`{
		"alice": {"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"*"}},
		"arn:aws:iam::111122223333:user/bob": [
			{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:Get*","Resource":"*"}},
			{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"kinesis:GetRecords","Resource":"*"}}
		]}`), acct)
	if err != nil {
		t.Fatal(err)
	}
	if a.Principals() != 2 {
		t.Fatalf("%d principals", a.Principals())
	}
	if err := a.Authorize(Request{Principal: bob, Action: "kinesis:GetShardIterator", Resource: orders}, nil); err != nil {
		t.Errorf("bob GetShardIterator: %v", err)
	}
	if err := a.Authorize(Request{Principal: bob, Action: "kinesis:GetRecords", Resource: orders}, nil); err == nil {
		t.Error("bob GetRecords allowed despite the deny in his second policy")
	}
	if _, err := ParsePolicies(strings.NewReader(`{"not a user!": {}}`), acct); err == nil {
		t.Error("a bad user name was accepted")
	}
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"", "", true}, {"*", "", true}, {"a*", "a", true}, {"a*c", "abbbc", true}, {"a*c", "abbb", false},
		{"?", "", false}, {"a?c", "abc", true}, {"*b*", "abc", true}, {"**", "x", true}, {"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false}, {strings.Repeat("*a", 30) + "b", strings.Repeat("a", 60), false},
	} {
		if got := Glob(tc.p, tc.s); got != tc.want {
			t.Errorf("Glob(%q, %q) = %v, want %v", tc.p, tc.s, got, tc.want)
		}
	}
}
