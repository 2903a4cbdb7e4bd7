package ui

import (
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

// attachedFake is the fake backend attached to a remote stream.
type attachedFake struct {
	*fakeBackend
	a Attachment
}

func (f attachedFake) Attachment() Attachment { return f.a }

func headerOf(t *testing.T, b Backend, w int) string {
	t.Helper()
	var m tea.Model = New(b, Options{Stream: "demo"})
	m, _ = m.Update(tea.WindowSizeMsg{Width: w, Height: 40})
	m, _ = m.Update(read(b))
	return strings.SplitN(m.View(), "\n", 2)[0]
}

// TestHeaderSaysWhere: embedded with room says so; attached names where,
// the read budget and read-only, and a lost connection in place of LIVE.
func TestHeaderSaysWhere(t *testing.T) {
	if h := headerOf(t, newFakeBackend(), 260); !strings.Contains(h, "▸ demo  (embedded)") {
		t.Fatalf("embedded header: %q", h)
	}
	a := attachedFake{newFakeBackend(), Attachment{Where: "us-east-1", Encryption: "KMS", Reads: "GetRecords 1/s per shard · 20 % of 5 reads/s", ReadsShort: "20 % of 5 reads/s"}}
	h := headerOf(t, a, 200)
	for _, want := range []string{"▸ demo @ us-east-1", "20 % of 5 reads/s", "read-only", "● LIVE", "KMS"} {
		if !strings.Contains(h, want) {
			t.Errorf("attached header lacks %q: %q", want, h)
		}
	}
	if strings.Contains(h, "sync:") || strings.Contains(h, "embedded") {
		t.Errorf("attached header shows the store's settings: %q", h)
	}
	a.a.Lost, a.a.Writes = "connection lost 5s ago", true
	h = headerOf(t, a, 120)
	for _, want := range []string{"✕ connection lost 5s ago", "✕ LOST", "WRITES"} {
		if !strings.Contains(h, want) {
			t.Errorf("header of a lost connection lacks %q: %q", want, h)
		}
	}
}

// TestAttachedMissingStream: attached to an endpoint without the stream,
// the shards pane does not offer to create it.
func TestAttachedMissingStream(t *testing.T) {
	f := newFakeBackend()
	f.snap.Streams = nil
	a := attachedFake{f, Attachment{Where: "eu-west-1", Problem: "DescribeStreamSummary: ResourceNotFoundException: Stream demo not found"}}
	var m tea.Model = New(a, Options{Stream: "demo"})
	m, _ = m.Update(tea.WindowSizeMsg{Width: 160, Height: 40})
	m, _ = m.Update(read(a))
	v := m.View()
	if !strings.Contains(v, "stream demo is not at eu-west-1") || strings.Contains(v, "create-stream") || strings.Contains(v, "create one") || !strings.Contains(v, `stream "demo" does not exist`) || !strings.Contains(v, "ResourceNotFoundException") {
		t.Fatalf("missing stream, attached:\n%s", v)
	}
}
