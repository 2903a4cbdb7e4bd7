package api

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/shardscope/shardscope/engine"
)

// BenchmarkHTTPPutRecords500 times the hot path over loopback HTTP/1.1
// with keep-alive: one JSON PutRecords of 500 records per op, through the
// body read, the fast decode and the engine (limits off, --sync none, so
// the disk does not hide the handler's cost).
func BenchmarkHTTPPutRecords500(b *testing.B) {
	for _, size := range []int{100, 1024} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			e := testEngine(b, engine.Options{DisableLimits: true})
			srv := testServer(b, e)
			if st, _, body := rawCall(b, srv.URL, TargetPrefix+"CreateStream", ContentTypeJSON, []byte(`{"StreamName":"s","ShardCount":4}`)); st != 200 {
				b.Fatalf("CreateStream: %d %s", st, body)
			}
			var req bytes.Buffer
			req.WriteString(`{"StreamName":"s","Records":[`)
			data := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("x"), size))
			for i := 0; i < 500; i++ {
				if i > 0 {
					req.WriteByte(',')
				}
				fmt.Fprintf(&req, `{"PartitionKey":"key-%d","Data":"%s"}`, i, data)
			}
			req.WriteString(`]}`)
			body := req.Bytes()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				r.Header.Set("X-Amz-Target", TargetPrefix+"PutRecords")
				r.Header.Set("Content-Type", ContentTypeJSON)
				resp, err := client.Do(r)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, resp.Body); err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}
