package ui

import (
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// BenchmarkView64Shards renders a full 200×60 frame of a 64-shard stream
// with a full feed: the cost of one repaint. Goal: well under 2 ms.
func BenchmarkView64Shards(b *testing.B) {
	for _, prof := range []struct {
		name string
		p    termenv.Profile
	}{{"ascii", termenv.Ascii}, {"truecolor", termenv.TrueColor}} {
		b.Run(prof.name, func(b *testing.B) {
			lipgloss.SetColorProfile(prof.p)
			defer lipgloss.SetColorProfile(termenv.Ascii)
			fake := newFakeBackend()
			setShards(fake, 64)
			fake.feed = sampleRecords(DefaultFeedCapacity, t0.Add(-time.Minute))
			m := New(fake, Options{Stream: "demo", Clock: func() time.Time { return t0 }})
			mm, _ := m.Update(tea.WindowSizeMsg{Width: 200, Height: 60})
			mm, _ = mm.Update(read(fake))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				_ = mm.View()
			}
		})
	}
}

// BenchmarkTick measures taking one tick of 400 records (2,000 records/s
// at five ticks a second) with a filter on.
func BenchmarkTick(b *testing.B) {
	fake := newFakeBackend()
	setShards(fake, 64)
	m := New(fake, Options{Stream: "demo", Clock: func() time.Time { return t0 }})
	mm, _ := m.Update(tea.WindowSizeMsg{Width: 200, Height: 60})
	mm.(Model).feed.apply("!healthz")
	msg := read(fake)
	msg.Records = sampleRecords(400, t0)
	msg.tick = false
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		mm, _ = mm.Update(msg)
	}
}
