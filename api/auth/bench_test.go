package auth

import (
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkVerify times one signature check of a Kinesis request whose
// body is a PutRecords of 100 records (the body's SHA-256 dominates for
// big records).
func BenchmarkVerify(b *testing.B) {
	for _, size := range []int{100, 1024} {
		b.Run(fmt.Sprintf("PutRecords100x%dB", size), func(b *testing.B) {
			body := bytes.Repeat([]byte("x"), 100*(size*4/3+40))
			r := kinesisRequest(b, suiteKeyID, suiteSecret, "", "us-east-1", suiteTime, string(body))
			v := suiteVerifier(b, "")
			v.Service = "kinesis"
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := v.Verify(r, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
