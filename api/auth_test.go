package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/fxamacker/cbor/v2"
	"github.com/shardscope/shardscope/api/auth"
	"github.com/shardscope/shardscope/api/tlscert"
	"github.com/shardscope/shardscope/engine"
)

// testCredentials is the credentials file of the auth tests: a user, a
// second user, a temporary key whose token expired and one that is fresh.
const testCredentials = `
[alice]
aws_access_key_id = AKIAALICE0000000000
aws_secret_access_key = alice/secret
[bob]
aws_access_key_id = AKIABOB000000000000
aws_secret_access_key = bob/secret
[old]
aws_access_key_id = ASIAOLD000000000000
aws_secret_access_key = old/secret
aws_session_token = old-token
x_security_token_expires = {{past}}
[temp]
aws_access_key_id = ASIATEMP00000000000
aws_secret_access_key = temp/secret
aws_session_token = temp-token
x_security_token_expires = {{future}}
`

func writeFile(t testing.TB, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// secureEnv is an engine on a manual clock served with signatures
// checked, and optionally policies and TLS.
type secureEnv struct {
	t      *testing.T
	e      *engine.Engine
	clock  *engine.ManualClock
	skew   atomic.Int64 // the verifier's clock runs this far ahead of the real one
	url    string
	caFile string // the server certificate, when TLS
	opts   Options
	protos sync.Map // protocol ("HTTP/2.0") → true, for every request served
}

func newSecureEnv(t *testing.T, policies string, useTLS bool) *secureEnv {
	t.Helper()
	clock := engine.NewManualClock(t0)
	e := testEngine(t, engine.Options{Clock: clock})
	// The SDK signs with the real clock, so the verifier uses it too.
	now := time.Now().UTC()
	creds := strings.NewReplacer("{{past}}", now.Add(-time.Hour).Format(time.RFC3339), "{{future}}", now.Add(time.Hour).Format(time.RFC3339)).Replace(testCredentials)
	keys, err := auth.ParseCredentials(strings.NewReader(creds), e.Options().AccountID)
	if err != nil {
		t.Fatal(err)
	}
	env := &secureEnv{t: t, e: e, clock: clock}
	verifierNow := func() time.Time { return time.Now().Add(time.Duration(env.skew.Load())) }
	env.opts = Options{Logger: testLogger(t), Auth: &auth.Verifier{Keys: keys, Region: e.Options().Region, Now: verifierNow}}
	if policies != "" {
		a, err := auth.ParsePolicies(strings.NewReader(policies), e.Options().AccountID)
		if err != nil {
			t.Fatal(err)
		}
		env.opts.Policies = a
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(e, env.opts)
	srv := &Server{Logger: testLogger(t), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env.protos.Store(r.Proto, true)
		h.ServeHTTP(w, r)
	})}
	env.url = "http://" + ln.Addr().String()
	if useTLS {
		dir := t.TempDir()
		env.caFile = filepath.Join(dir, "cert.pem")
		c, _, err := tlscert.SelfSigned(env.caFile, filepath.Join(dir, "key.pem"), tlscert.Hosts(ln.Addr().String()), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		srv.TLS = tlscert.Config(c)
		env.url = "https://" + ln.Addr().String()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return env
}

// client is the Go SDK signing as key id/secret/token for region.
func (env *secureEnv) client(id, secret, token, region string) *kinesis.Client {
	env.t.Helper()
	env.t.Setenv("AWS_CONFIG_FILE", filepath.Join(env.t.TempDir(), "none"))
	env.t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(env.t.TempDir(), "none"))
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(id, secret, token)),
		config.WithRetryMaxAttempts(1),
	}
	if env.caFile != "" {
		f, err := os.Open(env.caFile)
		if err != nil {
			env.t.Fatal(err)
		}
		defer f.Close()
		opts = append(opts, config.WithCustomCABundle(f))
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		env.t.Fatal(err)
	}
	return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) { o.BaseEndpoint = aws.String(env.url) })
}

func (env *secureEnv) alice() *kinesis.Client {
	return env.client("AKIAALICE0000000000", "alice/secret", "", "us-east-1")
}

func (env *secureEnv) bob() *kinesis.Client {
	return env.client("AKIABOB000000000000", "bob/secret", "", "us-east-1")
}

// wantAPIError checks err is the named service error with msg in its message.
func wantAPIError(t *testing.T, what string, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("%s: got %v, want %s", what, err, code)
	}
	if ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), msg) {
		t.Fatalf("%s: got %s: %q, want %s containing %q", what, ae.ErrorCode(), ae.ErrorMessage(), code, msg)
	}
}

func TestAuthGoSDK(t *testing.T) {
	env := newSecureEnv(t, "", false)
	c := env.alice()
	if _, err := c.CreateStream(bg, &kinesis.CreateStreamInput{StreamName: aws.String("s"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatalf("CreateStream signed right: %v", err)
	}
	if _, err := c.PutRecord(bg, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: []byte("hello")}); err != nil {
		t.Fatalf("PutRecord: %v", err)
	}
	// The temporary key with its token works too.
	temp := env.client("ASIATEMP00000000000", "temp/secret", "temp-token", "us-east-1")
	if _, err := temp.ListStreams(bg, &kinesis.ListStreamsInput{}); err != nil {
		t.Fatalf("ListStreams with a session token: %v", err)
	}
	// SubscribeToShard's request is signed with its body's hash like any.
	arn := env.e.StreamARN("s")
	reg, err := c.RegisterStreamConsumer(bg, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(arn), ConsumerName: aws.String("app")})
	if err != nil {
		t.Fatalf("RegisterStreamConsumer: %v", err)
	}
	sub, err := streamSDK(c).SubscribeToShard(bg, &kinesis.SubscribeToShardInput{ConsumerARN: reg.Consumer.ConsumerARN, ShardId: aws.String("shardId-000000000000"),
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon}})
	if err != nil {
		t.Fatalf("SubscribeToShard: %v", err)
	}
	s := sub.GetStream()
	defer s.Close()
	if data, _ := collect(t, s, 1); data[0] != "hello" {
		t.Fatalf("SubscribeToShard read %v", data)
	}

	cases := []struct {
		name, code, msg string
		c               *kinesis.Client
	}{
		{"wrong secret", "InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.",
			env.client("AKIAALICE0000000000", "not-alice", "", "us-east-1")},
		{"wrong region", "InvalidSignatureException", "Credential should be scoped to a valid region, not 'eu-west-1'.",
			env.client("AKIAALICE0000000000", "alice/secret", "", "eu-west-1")},
		{"unknown key", "UnrecognizedClientException", "The security token included in the request is invalid.",
			env.client("AKIANOBODY000000000", "x", "", "us-east-1")},
		{"expired session token", "ExpiredTokenException", "The security token included in the request is expired",
			env.client("ASIAOLD000000000000", "old/secret", "old-token", "us-east-1")},
		{"missing session token", "UnrecognizedClientException", "The security token included in the request is invalid.",
			env.client("ASIATEMP00000000000", "temp/secret", "", "us-east-1")},
	}
	for _, tc := range cases {
		_, err := tc.c.ListStreams(bg, &kinesis.ListStreamsInput{})
		wantAPIError(t, tc.name, err, tc.code, tc.msg)
	}
	// A skewed clock: the server's runs 6 minutes ahead of the signer's,
	// then 6 minutes behind. (One attempt: the SDK would otherwise learn
	// the skew from the reply's Date and retry.)
	env.skew.Store(int64(6 * time.Minute))
	_, err = c.ListStreams(bg, &kinesis.ListStreamsInput{})
	wantAPIError(t, "skewed clock", err, "InvalidSignatureException", "Signature expired: ")
	env.skew.Store(int64(-6 * time.Minute))
	_, err = c.ListStreams(bg, &kinesis.ListStreamsInput{})
	wantAPIError(t, "skewed clock", err, "InvalidSignatureException", "Signature not yet current: ")
	env.skew.Store(0)

	// No signature at all.
	status, hdr, body := rawCall(t, env.url, TargetPrefix+"ListStreams", ContentTypeJSON, []byte(`{}`))
	if status != 400 || hdr.Get("X-Amzn-ErrorType") != "MissingAuthenticationTokenException" || !strings.Contains(string(body), "Missing Authentication Token") {
		t.Fatalf("unsigned: %d %s %s", status, hdr.Get("X-Amzn-ErrorType"), body)
	}
	// As at the service, a broken body is named before the missing signature.
	if _, hdr, body := rawCall(t, env.url, TargetPrefix+"ListStreams", ContentTypeJSON, []byte(`{`)); hdr.Get("X-Amzn-ErrorType") != SerializationException {
		t.Fatalf("unsigned broken body: %s %s", hdr.Get("X-Amzn-ErrorType"), body)
	}
}

// TestAuthOffChangesNothing: without Auth an unsigned request is served.
func TestAuthOffChangesNothing(t *testing.T) {
	e := testEngine(t, engine.Options{})
	srv := testServer(t, e)
	status, _, body := rawCall(t, srv.URL, TargetPrefix+"ListStreams", ContentTypeJSON, []byte(`{}`))
	if status != 200 {
		t.Fatalf("unsigned without --auth: %d %s", status, body)
	}
}

// TestTLSHTTP2AndHTTP1 serves HTTPS with a self-signed certificate: the Go
// SDK (which asks for h2 by ALPN) gets HTTP/2, an HTTP/1.1-only client
// gets HTTP/1.1 on the same port, and cleartext is refused.
func TestTLSHTTP2AndHTTP1(t *testing.T) {
	env := newSecureEnv(t, "", true)
	var proto string
	c := env.alice()
	if _, err := c.ListStreams(bg, &kinesis.ListStreamsInput{}, func(o *kinesis.Options) {
		o.APIOptions = append(o.APIOptions, recordProto(&proto))
	}); err != nil {
		t.Fatalf("ListStreams over TLS: %v", err)
	}
	if proto != "HTTP/2.0" {
		t.Errorf("Go SDK over TLS spoke %q, want HTTP/2.0", proto)
	}
	pem, err := os.ReadFile(env.caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	for _, tc := range []struct {
		next []string
		want string
	}{{[]string{"http/1.1"}, "HTTP/1.1"}, {[]string{"h2", "http/1.1"}, "HTTP/2.0"}} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, NextProtos: tc.next}, ForceAttemptHTTP2: len(tc.next) == 2}
		if len(tc.next) == 1 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		resp, err := (&http.Client{Transport: tr}).Post(env.url, ContentTypeJSON, strings.NewReader("{}"))
		if err != nil {
			t.Fatalf("ALPN %v: %v", tc.next, err)
		}
		resp.Body.Close()
		if resp.Proto != tc.want || resp.Header.Get("X-Amzn-ErrorType") != "UnknownOperationException" {
			t.Errorf("ALPN %v: %s %s, want %s", tc.next, resp.Proto, resp.Header.Get("X-Amzn-ErrorType"), tc.want)
		}
		tr.CloseIdleConnections()
	}
	// TLS 1.1 is refused.
	conn, err := tls.Dial("tcp", strings.TrimPrefix(env.url, "https://"), &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11})
	if err == nil {
		conn.Close()
		t.Error("a TLS 1.1 handshake succeeded")
	}
	// Cleartext on the TLS port gets no Kinesis answer.
	resp, err := http.Post(strings.Replace(env.url, "https://", "http://", 1), ContentTypeJSON, strings.NewReader("{}"))
	if err == nil {
		defer resp.Body.Close()
		if resp.Header.Get("x-amzn-RequestId") != "" {
			t.Error("cleartext request served on the TLS port")
		}
	}
}

// recordProto is an SDK option that stores the protocol of the reply.
func recordProto(p *string) func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		return s.Deserialize.Add(middleware.DeserializeMiddlewareFunc("recordProto", func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleDeserialize(ctx, in)
			if r, ok := out.RawResponse.(*smithyhttp.Response); ok {
				*p = r.Proto
			}
			return out, md, err
		}), middleware.After)
	}
}

// signedRaw posts body signed by the SDK's signer as key id/secret.
func signedRaw(t *testing.T, url, id, secret, target, contentType string, body []byte, h2c bool) (int, http.Header, []byte) {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("X-Amz-Target", TargetPrefix+target)
	r.Header.Set("Content-Type", contentType)
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}, r, hex.EncodeToString(sum[:]), "kinesis", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	if h2c {
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if h2c && resp.Proto != "HTTP/2.0" {
		t.Fatalf("h2c request answered over %s", resp.Proto)
	}
	return resp.StatusCode, resp.Header, out
}

// TestAuthCBORAndH2C: a CBOR request (as the Java SDKs send) over
// cleartext HTTP/2 is verified and decided on the stream its body names.
func TestAuthCBORAndH2C(t *testing.T) {
	env := newSecureEnv(t, `{"alice": {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "kinesis:*", "Resource": "*"}}}`, false)
	create, _ := cbor.Marshal(map[string]any{"StreamName": "orders", "ShardCount": 1})
	if st, _, body := signedRaw(t, env.url, "AKIAALICE0000000000", "alice/secret", "CreateStream", ContentTypeCBOR, create, true); st != 200 {
		t.Fatalf("alice CreateStream (CBOR, h2c): %d %x", st, body)
	}
	put, _ := cbor.Marshal(map[string]any{"StreamName": "orders", "PartitionKey": "k", "Data": []byte("x")})
	if st, _, body := signedRaw(t, env.url, "AKIAALICE0000000000", "alice/secret", "PutRecord", ContentTypeCBOR, put, true); st != 200 {
		t.Fatalf("alice PutRecord (CBOR, h2c): %d %x", st, body)
	}
	st, hdr, body := signedRaw(t, env.url, "AKIABOB000000000000", "bob/secret", "PutRecord", ContentTypeCBOR, put, true)
	var e map[string]string
	_ = cbor.Unmarshal(body, &e)
	if st != 400 || hdr.Get("X-Amzn-ErrorType") != "AccessDeniedException" || !strings.Contains(e["message"], "on resource: "+env.e.StreamARN("orders")) {
		t.Fatalf("bob PutRecord (CBOR): %d %s %v", st, hdr.Get("X-Amzn-ErrorType"), e)
	}
	st, hdr, _ = signedRaw(t, env.url, "AKIAALICE0000000000", "wrong", "PutRecord", ContentTypeCBOR, put, false)
	if st != 400 || hdr.Get("X-Amzn-ErrorType") != "InvalidSignatureException" {
		t.Fatalf("wrong secret (CBOR): %d %s", st, hdr.Get("X-Amzn-ErrorType"))
	}
}
