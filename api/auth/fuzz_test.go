package auth

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzParseAuthorization: no Authorization header, however odd, panics
// the parser or the verifier, and every refusal is a named 400.
func FuzzParseAuthorization(f *testing.F) {
	for _, tc := range suiteCases {
		_, rest, _ := strings.Cut(tc.request, "Authorization:")
		h, _, _ := strings.Cut(rest, "\n")
		f.Add(h, "20150830T123600Z")
	}
	for _, s := range []string{"", "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential=", "AWS4-HMAC-SHA256 Credential=a/b/c/d/e,SignedHeaders=,Signature=",
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;;host, Signature=zz",
		"AWS4-HMAC-SHA256 ,,,,= = =", "Bearer x", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE////, SignedHeaders=x-amz-date, Signature=0"} {
		f.Add(s, "20150830T123600Z")
		f.Add(s, "Sun, 30 Aug 2015 12:36:00 GMT")
	}
	v := suiteVerifier(f, "")
	f.Fuzz(func(t *testing.T, h, date string) {
		if sig, err := ParseAuthorization(h, date != ""); err == nil {
			_ = sig.Scope()
		} else if err.Code != IncompleteSignature {
			t.Fatalf("ParseAuthorization(%q) = %v", h, err)
		}
		r, _ := http.NewRequest(http.MethodPost, "http://example.amazonaws.com/", nil)
		r.Header.Set("Authorization", h)
		r.Header.Set("X-Amz-Date", date)
		if _, err := v.Verify(r, []byte(h)); err != nil && (err.Status != 400 || err.Code == "" || err.Message == "") {
			t.Fatalf("Verify(%q) = %+v", h, err)
		}
	})
}

// FuzzParsePolicy: no document panics the parser, and whatever it accepts
// evaluates without panicking.
func FuzzParsePolicy(f *testing.F) {
	seeds := []string{
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kinesis:*","Resource":"*"}]}`,
		`{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":["kinesis:Get*"],"NotResource":"arn:aws:kinesis:*:*:stream/a?c"}}`,
		`{"Statement":{"Effect":"Allow","Principal":{"AWS":["*","111122223333"]},"Action":"kinesis:PutRecord","Resource":"*",
		  "Condition":{"IpAddress":{"aws:SourceIp":["127.0.0.0/8","::1"]},"StringLikeIfExists":{"aws:username":"a*"},"Null":{"aws:TagKeys":"true"},
		  "NumericLessThan":{"x:n":5},"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"},"ForAllValues:StringEquals":{"aws:TagKeys":["a"]}}}}`,
		`{}`, `[]`, `null`, `{"Statement":null}`, `{"Statement":[null]}`, `{"Statement":[{"Condition":{"StringEquals":null}}]}`,
	}
	for _, s := range seeds {
		f.Add(s, true)
		f.Add(s, false)
	}
	req := Request{Principal: alice, Action: "kinesis:PutRecord", Resource: orders, Context: RequestContext(alice, "127.0.0.1", true, time.Unix(1e9, 0))}
	f.Fuzz(func(t *testing.T, doc string, resource bool) {
		p, err := ParsePolicy([]byte(doc), resource)
		if err != nil {
			return
		}
		p.Evaluate(req)
		a := &Authorizer{identity: map[string][]*Policy{alice: {p}}}
		a.Authorize(req, []*Policy{p})
	})
}

// FuzzMatchARN: matching stays a yes or no for any pattern.
func FuzzMatchARN(f *testing.F) {
	f.Add("arn:aws:kinesis:*:*:stream/*", orders)
	f.Add("arn:*:*", ordCons)
	f.Add("**?*", "")
	f.Fuzz(func(t *testing.T, p, s string) {
		if MatchARN(p, s) && p == s+"x" && !strings.ContainsAny(p, "*?") {
			t.Fatalf("%q matched %q", p, s)
		}
		Glob(p, s)
	})
}
