package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

func TestSecurityFlags(t *testing.T) {
	dir := t.TempDir()
	store := storeFlags{db: filepath.Join(dir, "s.db"), sync: "none"}
	db, e, err := store.open(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	defer e.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	creds := write("credentials", "[alice]\naws_access_key_id = AKIAA\naws_secret_access_key = s\n")
	policy := write("policy.json", `{"alice": {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "kinesis:*", "Resource": "*"}}}`)

	for _, tc := range []struct {
		flags securityFlags
		want  string
	}{
		{securityFlags{policy: policy}, "--policy needs --auth"},
		{securityFlags{tlsCert: "c.pem"}, "--tls-cert and --tls-key go together"},
		{securityFlags{tlsSelfSigned: true, tlsKey: "k"}, "exclude each other"},
		{securityFlags{auth: write("bad", "[x]\nfoo = bar\n")}, "needs aws_access_key_id"},
		{securityFlags{auth: creds, policy: write("badpolicy", `{"alice": {"Statement": []}}`)}, "--policy"},
	} {
		if _, err := tc.flags.build(e, db.Path(), ln); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want an error containing %q", tc.flags, err, tc.want)
		}
	}

	f := securityFlags{auth: creds, policy: policy, tlsSelfSigned: true}
	s, err := f.build(e, db.Path(), ln)
	if err != nil {
		t.Fatal(err)
	}
	if s.opts.Auth == nil || s.opts.Policies == nil || s.tls == nil || !s.made || s.scheme() != "https" {
		t.Fatalf("built %+v", s)
	}
	if s.certFile != db.Path()+".tls-cert.pem" {
		t.Errorf("certificate at %s, want beside the store", s.certFile)
	}
	desc := strings.Join(s.describe(), "\n")
	for _, want := range []string{"signed requests required (1 keys)", "IAM policies enforced (1 principals", "SHA-256 fingerprint " + s.fingerprint} {
		if !strings.Contains(desc, want) {
			t.Errorf("describe lacks %q:\n%s", want, desc)
		}
	}
	// The next start keeps the same certificate.
	again, err := f.build(e, db.Path(), ln)
	if err != nil || again.made || again.fingerprint != s.fingerprint {
		t.Fatalf("second start: made=%v fingerprint %s vs %s, err %v", again.made, again.fingerprint, s.fingerprint, err)
	}
}

func TestBenchAuthCompare(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs four short loads")
	}
	cmd := benchCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"--auth-compare", "--duration", "300ms", "--sync", "none", "--shards", "1", "--producers", "1", "--batch", "10"})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("bench --auth-compare: %v\n%s", err, out.String())
	}
	text := out.String()
	if strings.Count(text, "auth on   put ") != 2 || strings.Count(text, "auth off  put ") != 2 || !strings.Contains(text, "auth on/off put rate: ") || strings.Count(text, "errors 0 ") != 4 {
		t.Fatalf("output:\n%s", text)
	}
	if strings.Contains(text, "last error") {
		t.Fatalf("a signed bench call failed:\n%s", text)
	}
}

// TestConsoleShowsDeniedRequests runs the console serving the API with
// --auth, --policy and a self-signed certificate, and checks that a
// request the policy refuses appears in the events pane.
func TestConsoleShowsDeniedRequests(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "creds.ini")
	policy := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(creds, []byte("[bob]\naws_access_key_id = AKIABOB\naws_secret_access_key = bob/secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(policy, []byte(`{"bob": {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "kinesis:List*", "Resource": "*"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s, _, storeDir := startConsole(t, 160, 48, "--listen", addr, "--auth", creds, "--policy", policy, "--tls-self-signed")
	cert, err := os.ReadFile(filepath.Join(storeDir, "e2e.db.tls-cert.pem"))
	if err != nil {
		t.Fatalf("the self-signed certificate is not beside the store: %v", err)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIABOB", "bob/secret", "")),
		config.WithCustomCABundle(bytes.NewReader(cert)), config.WithRetryMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	c := kinesis.NewFromConfig(cfg, func(o *kinesis.Options) { o.BaseEndpoint = aws.String("https://" + addr) })
	if _, err := c.ListStreams(context.Background(), &kinesis.ListStreamsInput{}); err != nil {
		t.Fatalf("ListStreams, which bob may: %v", err)
	}
	_, err = c.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String("demo"), PartitionKey: aws.String("k"), Data: []byte("x")})
	if err == nil || !strings.Contains(err.Error(), "AccessDeniedException") {
		t.Fatalf("PutRecord: got %v, want AccessDeniedException", err)
	}
	s.waitFor("the denied request in the events pane", 10*time.Second, contains("denied kinesis:PutRecord to arn:aws:iam::000000000000:user/bob"))
	s.keys("q")
	s.waitFor("exit", 15*time.Second, contains("[exit=0]"))
}
