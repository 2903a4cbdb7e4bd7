package auth

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEExamples: the credentials file and the policy file the README
// shows are read as shown.
func TestREADMEExamples(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i := strings.Index(text, "## Security")
	if i < 0 {
		t.Fatal("README has no Security section")
	}
	text = text[i:]
	ini := regexp.MustCompile("(?s)```ini\n(.*?)```").FindStringSubmatch(text)
	js := regexp.MustCompile("(?s)```json\n(.*?)```").FindStringSubmatch(text)
	if ini == nil || js == nil {
		t.Fatal("README's Security section lacks its ini or json example")
	}
	c, err := ParseCredentials(strings.NewReader(ini[1]), "000000000000")
	if err != nil {
		t.Fatalf("README credentials: %v", err)
	}
	if k := c.Lookup("ASIACI0000000000000"); k == nil || k.SessionToken != "token-of-ci" || k.Expires.IsZero() || k.Principal != "arn:aws:iam::000000000000:user/ci" {
		t.Fatalf("README credentials read as %+v", k)
	}
	a, err := ParsePolicies(strings.NewReader(js[1]), "000000000000")
	if err != nil {
		t.Fatalf("README policy: %v", err)
	}
	orders := "arn:aws:kinesis:us-east-1:000000000000:stream/orders"
	writer := "arn:aws:iam::000000000000:user/writer"
	ctx := RequestContext(writer, "127.0.0.1", false, suiteTime)
	if err := a.Authorize(Request{Principal: writer, Action: "kinesis:PutRecords", Resource: orders, Context: ctx}, nil); err != nil {
		t.Errorf("writer PutRecords: %v", err)
	}
	if err := a.Authorize(Request{Principal: "arn:aws:iam::000000000000:user/alice", Action: "kinesis:DeleteStream", Resource: orders}, nil); err == nil {
		t.Error("alice may delete orders")
	}
}
