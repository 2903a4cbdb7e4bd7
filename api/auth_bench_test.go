package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/shardscope/shardscope/api/auth"
	"github.com/shardscope/shardscope/engine"
)

// BenchmarkAuthPutRecords times PutRecords of 100 records over loopback
// HTTP/1.1, signed by the SDK's signer as every client signs, with the
// server verifying (auth=on) or not (auth=off), and with policies on top
// (auth=policy). The ratio on/off is what --auth costs; on a busy machine
// BenchmarkAuthOverhead measures it better.
func BenchmarkAuthPutRecords(b *testing.B) {
	for _, size := range []int{100, 1024} {
		for _, mode := range []string{"off", "on", "policy"} {
			b.Run(fmt.Sprintf("%dB/auth=%s", size, mode), func(b *testing.B) {
				call, body := authBenchServer(b, mode, size)
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					call("PutRecords", body)
				}
			})
		}
	}
}

// BenchmarkAuthOverhead alternates the same signed PutRecords between a
// server without and one with --auth (and one with --policy too), so both
// see the same machine load, and reports each one's mean time per call
// and the throughput ratios on/off and policy/off.
func BenchmarkAuthOverhead(b *testing.B) {
	for _, size := range []int{100, 1024} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			var calls [3]func(string, []byte)
			var body []byte
			for i, mode := range []string{"off", "on", "policy"} {
				calls[i], body = authBenchServer(b, mode, size)
			}
			var spent [3]time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range calls {
					start := time.Now()
					calls[j]("PutRecords", body)
					spent[j] += time.Since(start)
				}
			}
			b.ReportMetric(float64(spent[0].Nanoseconds())/float64(b.N), "ns-off/call")
			b.ReportMetric(float64(spent[1].Nanoseconds())/float64(b.N), "ns-on/call")
			b.ReportMetric(float64(spent[2].Nanoseconds())/float64(b.N), "ns-policy/call")
			b.ReportMetric(float64(spent[0])/float64(spent[1]), "on/off")
			b.ReportMetric(float64(spent[0])/float64(spent[2]), "policy/off")
		})
	}
}

// authBenchServer serves a fresh engine with auth off, on, or on with a
// policy, creates stream "s", and returns a signed-call function and a
// PutRecords body of 100 records of size bytes.
func authBenchServer(b *testing.B, mode string, size int) (call func(target string, body []byte), putBody []byte) {
	e := testEngine(b, engine.Options{DisableLimits: true})
	var opts Options
	if mode != "off" {
		keys, err := auth.ParseCredentials(strings.NewReader("[bench]\naws_access_key_id=bench\naws_secret_access_key=bench\n"), e.Options().AccountID)
		if err != nil {
			b.Fatal(err)
		}
		opts.Auth = &auth.Verifier{Keys: keys, Region: "us-east-1"}
	}
	if mode == "policy" {
		a, err := auth.ParsePolicies(strings.NewReader(`{"bench":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kinesis:*","Resource":"arn:aws:kinesis:*:*:stream/*"},{"Effect":"Allow","Action":"kinesis:CreateStream","Resource":"*"}]}}`), e.Options().AccountID)
		if err != nil {
			b.Fatal(err)
		}
		opts.Policies = a
	}
	srv := httptest.NewServer(NewHandler(e, opts))
	b.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	signer := v4.NewSigner()
	call = func(target string, body []byte) {
		r, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
		r.Header.Set("X-Amz-Target", TargetPrefix+target)
		r.Header.Set("Content-Type", ContentTypeJSON)
		sum := sha256.Sum256(body)
		if err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "bench", SecretAccessKey: "bench"}, r, hex.EncodeToString(sum[:]), "kinesis", "us-east-1", time.Now()); err != nil {
			b.Fatal(err)
		}
		resp, err := client.Do(r)
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("%s: %d %s", target, resp.StatusCode, out)
		}
	}
	call("CreateStream", []byte(`{"StreamName":"s","ShardCount":4}`))
	var req bytes.Buffer
	req.WriteString(`{"StreamName":"s","Records":[`)
	data := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("x"), size))
	for i := 0; i < 100; i++ {
		if i > 0 {
			req.WriteByte(',')
		}
		fmt.Fprintf(&req, `{"PartitionKey":"key-%d","Data":"%s"}`, i, data)
	}
	req.WriteString(`]}`)
	return call, req.Bytes()
}
