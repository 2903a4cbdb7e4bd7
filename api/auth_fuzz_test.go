package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/shardscope/shardscope/api/auth"
	"github.com/shardscope/shardscope/engine"
)

// FuzzAuthorizedRequests sends signed requests of any action and body to
// a handler that verifies them and decides them with policies (and a
// resource policy on the seed stream): whatever the members, naming the
// resource, building the condition keys and deciding never panics, and
// every reply is a well-formed success or error.
func FuzzAuthorizedRequests(f *testing.F) {
	for _, s := range seedRequests {
		f.Add(actionIndex(s.action), jsonSeed(s.body))
	}
	for _, raw := range []string{`{"Tags":[1],"TagKeys":{"a":1},"StreamName":"fz"}`, `{"ResourceARN":"*","Policy":"{}"}`,
		`{"ConsumerARN":7}`, `{"ShardIterator":"AAAA"}`, `{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/fz","ConsumerName":"c"}`} {
		f.Add(actionIndex("TagResource"), []byte(raw))
		f.Add(actionIndex("DescribeStreamConsumer"), []byte(raw))
	}
	clock := engine.NewManualClock(t0)
	e := testEngine(f, engine.Options{Clock: clock, DisableLimits: true, ShardLimit: 64})
	keys, err := auth.ParseCredentials(strings.NewReader("[alice]\naws_access_key_id=AKIAALICE\naws_secret_access_key=s\n"), e.Options().AccountID)
	if err != nil {
		f.Fatal(err)
	}
	pol, err := auth.ParsePolicies(strings.NewReader(`{"alice": {"Version": "2012-10-17", "Statement": [
		{"Effect": "Allow", "Action": "kinesis:*", "Resource": "*", "Condition": {"StringLikeIfExists": {"aws:RequestTag/k": "v*"}}},
		{"Effect": "Deny", "Action": "kinesis:Delete*", "Resource": "*", "Condition": {"StringEquals": {"aws:ResourceTag/k": "v"}}}]}}`), e.Options().AccountID)
	if err != nil {
		f.Fatal(err)
	}
	h := NewHandler(e, Options{Auth: &auth.Verifier{Keys: keys, Region: "us-east-1", Now: clock.Now}, Policies: pol})
	signer := v4.NewSigner()
	f.Fuzz(func(t *testing.T, action uint8, body []byte) {
		name := actionName(action)
		req, cancel := fuzzRequest(name, ContentTypeJSON, body)
		defer cancel()
		sum := sha256.Sum256(body)
		if err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIAALICE", SecretAccessKey: "s"}, req, hex.EncodeToString(sum[:]), "kinesis", "us-east-1", clock.Now()); err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK {
			return
		}
		typ := rec.Header().Get("X-Amzn-ErrorType")
		if typ == "" && rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("%s: %d without an error name: %s", name, rec.Code, rec.Body.Bytes())
		}
		switch typ {
		case "InvalidSignatureException", "IncompleteSignatureException", "MissingAuthenticationTokenException", "UnrecognizedClientException", "InternalFailure":
			t.Fatalf("%s: a rightly signed request got %s: %s", name, typ, rec.Body.Bytes())
		}
	})
}
