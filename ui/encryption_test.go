package ui

import (
	"strings"
	"testing"

	"github.com/shardscope/shardscope/engine"
)

// An encrypted stream is marked in the header: in full when there is room,
// as "KMS" in 80 columns; a clear stream shows neither.
func TestHeaderMarksEncryptedStream(t *testing.T) {
	set := func(f *fakeBackend) {
		s := &f.snap.Streams[0]
		s.EncryptionType, s.KeyID = engine.EncryptionKMS, "alias/aws/kinesis"
	}
	hd := header(newHarnessWith(t, 300, 48, Options{Stream: "demo"}, set).view())
	if !strings.Contains(hd, "encrypted (KMS alias/aws/kinesis)") {
		t.Errorf("wide header lacks the encryption mark:\n%s", hd)
	}
	hd = header(newHarnessWith(t, 80, 24, Options{Stream: "demo"}, set).view())
	if !strings.Contains(hd, "KMS") {
		t.Errorf("80-column header lacks KMS:\n%s", hd)
	}
	hd = header(newHarness(t, 200, 48).view())
	if strings.Contains(hd, "KMS") || strings.Contains(hd, "encrypted") {
		t.Errorf("clear stream's header is marked:\n%s", hd)
	}
}
